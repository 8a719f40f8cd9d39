# ProtoNet (Snell et al. 2017): Adam 1e-3 halved every 2000 episodes;
# meta-validation every 2k iterations.
# bfloat16 autocast for the training forward where the CPU or GPU computes
# it natively, float32 elsewhere (precision='float32' to force it):
# validation accuracy unchanged (benchmarks/bf16_accuracy.sh, docs/speed.md)
optim_wrapper = dict(
    type='AutocastOptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='StepLR', by_epoch=False, step_size=2000, gamma=0.5)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=20000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
