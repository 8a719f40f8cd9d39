# Baseline (Chen et al. 2019; Eshratifar et al.'s "Transfer Learning") on the
# 32x32 miniImageNet CPU protocol (../_base_/datasets/mini_imagenet_32px.py;
# a reduction of the published 84x84 setting): Conv4-32 (128 features) with
# a linear head over the 64 base classes, batches of 128 with horizontal
# flips, cosine-decayed Adam. Meta-test: the cosine centroid head of
# transfer_conv4.py; the paper's fine-tuned linear head is the option in
# docs/transfer_baseline.md. Train it for a CPU budget with
# --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px.py',
    '../_base_/models/transfer_conv4_rgb84.py',
    '../_base_/schedules/adam_16k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=_base_.norm_32px,
    backbone=dict(channels=(32, 32, 32, 32)),
    head=dict(in_channels=128))
default_hooks = dict(checkpoint=dict(interval=2000))
