# Prototypical Networks (Snell et al. 2017) on 84x84 RGB: Conv4-64 with max-
# pooling (64 x 5 x 5 = 1600 features), running-statistics BN.
# Training steps run channels-last (Conv4's train_channels_last: 1.4x
# faster at 84x84, 2x at 32x32 on CPU, docs/speed.md).
_base_ = ['./protonet_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(in_channels=3, train_channels_last=True))
