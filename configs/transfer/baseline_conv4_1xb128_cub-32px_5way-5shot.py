# Baseline (Chen et al. 2019) on CUB at 32x32 (../_base_/datasets/cub_32px.py,
# the CPU protocol of the miniImageNet 32px study): Conv4-32 (128 features)
# with a linear head over the base species (44 on the 100-species subset of
# data/CUB_200_2011; set 100 on the full dataset), batches of 128 with
# horizontal flips, cosine-decayed Adam; meta-test: the cosine centroid
# head. The warm start of MTL-MAML in benchmarks/cub_study.sh trains it.
_base_ = [
    '../_base_/datasets/cub_32px.py',
    '../_base_/models/transfer_conv4_rgb84.py',
    '../_base_/schedules/adam_16k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=_base_.norm_32px,
    backbone=dict(channels=(32, 32, 32, 32)),
    head=dict(in_channels=128, num_classes=44))
default_hooks = dict(checkpoint=dict(interval=2000))
