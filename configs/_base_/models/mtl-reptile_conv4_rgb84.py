# MTL (Eshratifar et al. 2019) on 84x84 RGB with a Reptile meta branch (the
# network and inner loop of reptile_conv4_rgb84.py), as the authors' code,
# plus a transfer branch on a C-way head over the base classes (64 for
# miniImageNet; configs set C); beta 0.1.
model = dict(
    type='MTL',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='Conv4',
        in_channels=3,
        channels=(32, 32, 32, 32),
        track_running_stats=False),
    meta_branch=dict(
        type='Reptile',
        head=dict(type='LinearHead', in_channels=800),
        num_ways=5,
        num_inner_steps=8,
        test_num_inner_steps=50,
        inner_lr=0.5,
        bn_policy='batch'),
    transfer_branch=dict(
        type='TransferClassifier',
        head=dict(type='LinearHead', in_channels=800, num_classes=64)),
    beta=0.1)
