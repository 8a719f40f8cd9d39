# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 5-way
# 1-shot: the episodes, inner loop and schedule of
# ../maml/maml_conv4_1xb32_omniglot_5way-1shot.py, plus the transfer branch
# (beta = 0.1).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-maml_conv4.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]
