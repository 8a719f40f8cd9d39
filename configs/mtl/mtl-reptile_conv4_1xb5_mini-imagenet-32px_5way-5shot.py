# MTL (Eshratifar et al. 2019) with the Reptile meta branch of
# ../reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py (32x32 CPU
# protocol, models/mtl-reptile_conv4_rgb32.py) plus the transfer branch over
# the 64 base classes on the features of each task's first inner step (beta
# 0.1), as the authors' code.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/mtl-reptile_conv4_rgb32.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

model = dict(data_preprocessor=_base_.norm_32px)
train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=15, num_queries=0))
train_cfg = dict(val_interval=12500)
default_hooks = dict(checkpoint=dict(interval=12500))
