# Meta-transfer learning by scaling and shifting (Sun et al. 2019) on a
# ResNet12 (640 features) pretrained by the transfer baseline
# (configs/transfer/baseline_resnet12_*): pass its checkpoint by load_from.
# SS on every 3x3 convolution (not the 1x1 shortcuts); base learner FC
# 640 -> N; inner SGD lr 0.01, 20 steps (100 at meta-test), as the paper.
model = dict(
    type='MTLScaleShift',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(type='ResNet12', track_running_stats=True),
    base_learner=dict(type='LinearHead', in_channels=640),
    num_ways=5,
    adapter=dict(
        type='Finetune',
        adapt='head.',
        num_steps=20,
        lr=0.01,
        test_cfg=dict(num_steps=100)),
    scale_mode='out')
# load_from is a transfer checkpoint: its backbone loads, its head is left
# out and the SS parameters and the base learner start new, a partial load
# on purpose (logged). Shapes must still match; tools/test.py and --resume
# load strictly.
load_from_strict = False
