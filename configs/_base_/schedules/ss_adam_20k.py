# Sun et al. 2019: meta Adam 1e-3 halved every 1000 iterations, 20k meta-
# iterations; meta-validation every 1k.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='StepLR', by_epoch=False, step_size=1000, gamma=0.5)
]
train_cfg = dict(
    type='FewShotTrainLoop', max_iters=20000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
