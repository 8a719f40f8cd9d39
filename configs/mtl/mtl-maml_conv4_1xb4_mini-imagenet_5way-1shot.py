# MTL (Eshratifar et al. 2019) with a MAML meta branch, miniImageNet 5-way
# 1-shot, conv4: the episodes and schedule of
# ../maml/maml_conv4_1xb4_mini-imagenet_5way-1shot.py, plus the transfer branch
# over the 64 base classes (beta = 0.1).
_base_ = [
    '../_base_/datasets/mini_imagenet_episodic.py',
    '../_base_/models/mtl-maml_conv4_rgb84.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]
