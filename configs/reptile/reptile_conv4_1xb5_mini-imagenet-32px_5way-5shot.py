# Reptile (Nichol et al. 2018) on the 32x32 miniImageNet CPU protocol
# (../_base_/datasets/mini_imagenet_32px.py; a reduction of the published
# 84x84 setting): the Conv4-32 Reptile of models/reptile_conv4_rgb32.py,
# meta-batch 5 of 5-way 15-shot training episodes (the reference's
# train-shots), eps annealed 1 -> 0. Train it for a CPU budget with
# --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/reptile_conv4_rgb32.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

model = dict(data_preprocessor=_base_.norm_32px)
train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=15, num_queries=0))
train_cfg = dict(val_interval=12500)
default_hooks = dict(checkpoint=dict(interval=12500))
