# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 5-way
# 1-shot, on the CPU budget of ../maml/maml_conv4_1xb8_omniglot_5way-1shot.py
# (meta-batch 8, cosine-decayed Adam), plus the transfer branch (beta = 0.1).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-maml_conv4.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=8)
default_hooks = dict(checkpoint=dict(interval=2500))
