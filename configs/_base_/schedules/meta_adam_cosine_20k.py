# A short meta-training schedule for CPU budgets: Adam 1e-3 decayed to 0 by
# a cosine over 20k meta-iterations; meta-validation and a checkpoint every
# 2.5k (set default_hooks.checkpoint.interval to match). Change `end` with
# max_iters.
# bfloat16 autocast for the meta-training forward where the CPU or GPU
# computes it natively, float32 elsewhere (precision='float32' to force it).
optim_wrapper = dict(
    type='AutocastOptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=20000)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=20000, val_interval=2500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
