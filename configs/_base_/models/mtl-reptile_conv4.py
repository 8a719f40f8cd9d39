# MTL (Eshratifar et al. 2019) with a Reptile meta branch, as the authors'
# code (a fork of Nichol et al.'s supervised-reptile): the Omniglot network
# and inner loop of models/reptile_conv4.py, plus a transfer branch on a
# C-way head over the 4112 Omniglot base classes; beta = 0.1. The Reptile
# update (shared - adapted) and the transfer gradient are averaged and
# applied by SGD with the annealed meta step size. At meta-test: Reptile's
# 50 SGD fine-tuning steps on the support set.
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
        type='Reptile',
        head=dict(type='LinearHead', in_channels=256),
        num_ways=5,
        num_inner_steps=5,
        test_num_inner_steps=50,
        inner_lr=0.5,
        bn_policy='batch'),
    transfer_branch=dict(
        type='TransferClassifier',
        head=dict(type='LinearHead', in_channels=256, num_classes=4112)),
    beta=0.1)
