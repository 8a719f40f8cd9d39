# Meta-transfer learning by scaling and shifting (Sun et al. 2019) on the
# Omniglot transfer baseline's Conv4 (64 features, running-statistics BN):
# start from its checkpoint with
#   --cfg-options load_from=work_dirs/<baseline>/best_accuracy_mean_iter_N.pth
# The convolutions and BN are frozen; SS (scale per output channel) and the
# N-way base learner's initialisation are meta-learned. Inner loop as the
# paper: SGD lr 0.01, 20 steps (100 at meta-test), second order.
model = dict(
    type='MTLScaleShift',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor', mean=[0.0], std=[255.0]),
    backbone=dict(type='Conv4', in_channels=1, track_running_stats=True),
    base_learner=dict(type='LinearHead', in_channels=64),
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
