# Reptile's outer update theta <- theta + eps * (mean adapted - theta),
# applied as SGD with lr = eps on the update written as a gradient; eps
# annealed linearly from 1 to 0 over the run (Nichol et al. 2018). Change
# `end` with max_iters.
# bfloat16 autocast for the meta-training forward where the CPU or GPU
# computes it natively, float32 elsewhere (precision='float32' to force it).
optim_wrapper = dict(
    type='AutocastOptimWrapper', optimizer=dict(type='SGD', lr=1.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=False,
        begin=0,
        end=100000)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=100000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
