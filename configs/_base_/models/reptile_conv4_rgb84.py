# Reptile (Nichol et al. 2018) with the MAML miniImageNet network (4 x
# [conv3x3 32, BN, ReLU, max-pool], 800 features) on 84x84 RGB, batch-
# statistics BN; 8 inner steps as the reference's miniImageNet setting, 50
# at meta-test.
_base_ = ['./reptile_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        in_channels=3, channels=(32, 32, 32, 32), pool=True, stride=1),
    head=dict(in_channels=800),
    adapter=dict(num_steps=8))
