# Adam 1e-3 with cosine decay over 16k iterations (about 18 minutes for a
# Conv4 at 28x28, batch 128, on 2 CPU cores); meta-validation every 2k.
# bfloat16 autocast for the training forward where the CPU or GPU computes
# it natively, float32 elsewhere (precision='float32' to force it):
# validation accuracy unchanged (benchmarks/bf16_accuracy.sh, docs/speed.md)
optim_wrapper = dict(
    type='AutocastOptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=16000)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=16000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
