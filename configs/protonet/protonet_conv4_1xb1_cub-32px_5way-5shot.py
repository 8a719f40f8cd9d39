# Prototypical Networks (Snell et al. 2017) on CUB at 32x32
# (../_base_/datasets/cub_32px.py, the CPU protocol of the miniImageNet
# 32px study), with the Conv4-32 of the other methods of the study: 20-way
# 5-shot 15-query training episodes of the base species, Adam halved in
# steps. Train it for a CPU budget with --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/cub_32px_episodic.py',
    '../_base_/models/protonet_conv4_rgb84.py',
    '../_base_/schedules/protonet_adam_20k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=_base_.norm_32px,
    backbone=dict(channels=(32, 32, 32, 32)))
train_dataloader = dict(batch_size=1, dataset=dict(num_ways=20))
default_hooks = dict(checkpoint=dict(interval=2000))
