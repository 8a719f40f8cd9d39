# MTL (Eshratifar et al. 2019): the MAML reference's Omniglot network
# (models/maml_conv4.py: 4 x [conv3x3 64 stride 2, BN, ReLU], 256 features,
# batch-statistics BN) trained by a MAML meta branch on an N-way head and a
# transfer branch on a C-way head over the 4112 Omniglot base classes
# (Vinyals train split with rotations), moved by (1 - beta) * meta + beta *
# transfer. beta = 0.1 as the authors' code. At meta-test: MAML's SGD
# fine-tuning of all weights on the support set.
model = dict(
    type='MTL',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor', mean=[0.0], std=[255.0]),
    backbone=dict(
        type='Conv4',
        in_channels=1,
        track_running_stats=False,
        pool=False,
        stride=2),
    meta_branch=dict(
        type='MAML',
        head=dict(type='LinearHead', in_channels=256),
        num_ways=5,
        num_inner_steps=1,
        test_num_inner_steps=3,
        inner_lr=0.4,
        first_order=False,
        bn_policy='batch'),
    transfer_branch=dict(
        type='TransferClassifier',
        head=dict(type='LinearHead', in_channels=256, num_classes=4112)),
    beta=0.1)
