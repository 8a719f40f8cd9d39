# MTL (Eshratifar et al. 2019) with the MAML meta branch of
# ../maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py (32x32 CPU
# protocol, models/mtl-maml_conv4_rgb32.py) plus the transfer branch over the
# 64 base classes on the features the meta branch computes (beta 0.1).
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/mtl-maml_conv4_rgb32.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(data_preprocessor=_base_.norm_32px)
default_hooks = dict(checkpoint=dict(interval=2500))
