# Baseline (Chen et al. 2019) on tieredImageNet: a Conv4 (1600 features at
# 84x84) with a linear head over the 351 base classes; meta-test fine-tunes a
# new zero-initialised linear head on the support features.
_base_ = [
    '../_base_/datasets/tiered_imagenet.py',
    '../_base_/models/transfer_conv4_rgb84.py',
    '../_base_/schedules/adam_16k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(batch_augments=_base_.train_batch_augments),
    head=dict(num_classes=351))
