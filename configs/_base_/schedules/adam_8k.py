# Adam 1e-3 with cosine decay over 8k iterations (about 8 minutes for a
# Conv4 at 28x28, batch 128, on 2 CPU cores); meta-validation and a
# checkpoint every 1k.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=8000)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=8000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
