# MTL (Eshratifar et al. 2019) on 84x84 RGB: the network and MAML inner loop
# of maml_conv4_rgb84.py as the meta branch, plus a transfer branch on a
# C-way head over the base classes (64 for miniImageNet; configs set C);
# beta 0.1.
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
        type='MAML',
        head=dict(type='LinearHead', in_channels=800),
        num_ways=5,
        num_inner_steps=5,
        test_num_inner_steps=10,
        inner_lr=0.05,
        bn_policy='batch'),
    transfer_branch=dict(
        type='TransferClassifier',
        head=dict(type='LinearHead', in_channels=800, num_classes=64)),
    beta=0.1)
