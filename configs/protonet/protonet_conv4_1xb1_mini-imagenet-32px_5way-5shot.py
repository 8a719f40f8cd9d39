# Prototypical Networks (Snell et al. 2017) on the 32x32 miniImageNet CPU
# protocol (../_base_/datasets/mini_imagenet_32px.py; a reduction of the
# published 84x84 setting), with the Conv4-32 of the other methods of the
# study (Snell et al. used 64 filters): 20-way 5-shot 15-query training
# episodes (the authors' 5-shot setting), Adam halved in steps. Train it for a
# CPU budget with --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/protonet_conv4_rgb84.py',
    '../_base_/schedules/protonet_adam_20k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=_base_.norm_32px,
    backbone=dict(channels=(32, 32, 32, 32)))
train_dataloader = dict(batch_size=1, dataset=dict(num_ways=20))
default_hooks = dict(checkpoint=dict(interval=2000))
