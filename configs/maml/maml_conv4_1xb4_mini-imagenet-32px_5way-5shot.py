# MAML (Finn et al. 2017) on the 32x32 miniImageNet CPU protocol
# (../_base_/datasets/mini_imagenet_32px.py; a reduction, not the published
# 84x84 setting): the first-order Conv4-32 MAML of models/maml_conv4_rgb32.py,
# meta-batch 4 of 5-way 5-shot 15-query episodes, cosine-decayed Adam; train
# it for a CPU budget with --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/maml_conv4_rgb32.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(data_preprocessor=_base_.norm_32px)
default_hooks = dict(checkpoint=dict(interval=2500))
