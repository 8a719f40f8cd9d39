# MTL (Eshratifar et al. 2019) with a MAML meta branch, CUB 5-way
# 1-shot, resnet12: the episodes and schedule of
# ../maml/maml_resnet12_1xb4_cub_5way-1shot.py, plus the transfer branch over
# the 100 base classes (beta = 0.1).
_base_ = [
    '../_base_/datasets/cub_episodic.py',
    '../_base_/models/mtl-maml_resnet12.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]

model = dict(transfer_branch=dict(head=dict(num_classes=100)))
