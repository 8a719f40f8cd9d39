# Meta-optimiser Adam 1e-3, constant, 60k meta-iterations (MAML reference);
# meta-validation every 2k iterations.
# bfloat16 autocast for the meta-training forward where the CPU or GPU
# computes it natively, float32 elsewhere (precision='float32' to force it).
optim_wrapper = dict(
    type='AutocastOptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=60000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
