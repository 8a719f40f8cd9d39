# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 20-way
# 1-shot, on the CPU budget of
# ../maml/maml_conv4_1xb4_omniglot_20way-1shot.py (meta-batch 4, 1 inner
# step, cosine-decayed Adam), plus the transfer branch (beta = 0.1).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-maml_conv4.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    meta_branch=dict(num_ways=20, num_inner_steps=1, test_num_inner_steps=5))
train_dataloader = dict(
    batch_size=4, dataset=dict(num_ways=20, num_shots=1, num_queries=1))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
default_hooks = dict(checkpoint=dict(interval=2500))
