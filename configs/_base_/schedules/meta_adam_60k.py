# Meta-optimiser Adam 1e-3, constant, 60k meta-iterations (MAML reference);
# meta-validation every 2k iterations.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=60000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
