# Transfer-learning baseline on a Conv4 backbone for 84x84 RGB images
# (miniImageNet, tieredImageNet, CUB): ImageNet mean / std in 0-255 RGB, a
# 64 x 5 x 5 = 1600-feature backbone. num_classes is the number of base
# classes of the dataset (64 for miniImageNet; configs override it).
# Training steps run channels-last (Conv4's train_channels_last: 1.4x
# faster at 84x84, 2x at 32x32 on CPU, docs/speed.md).
_base_ = ['./transfer_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(in_channels=3, train_channels_last=True),
    head=dict(in_channels=1600, num_classes=64))
