# MTL (Eshratifar et al. 2019) with a Reptile meta branch, miniImageNet 5-way
# 1-shot: the episodes and schedule of
# ../reptile/reptile_conv4_1xb5_mini-imagenet_5way-1shot.py, plus the transfer
# branch over the 64 base classes (beta = 0.1).
_base_ = [
    '../_base_/datasets/mini_imagenet_episodic.py',
    '../_base_/models/mtl-reptile_conv4_rgb84.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=15, num_queries=0))
