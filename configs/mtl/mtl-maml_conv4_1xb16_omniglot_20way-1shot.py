# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 20-way
# 1-shot: the episodes, inner loop and schedule of
# ../maml/maml_conv4_1xb16_omniglot_20way-1shot.py,
# plus the transfer branch (beta = 0.1).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-maml_conv4.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]

model = dict(
    meta_branch=dict(num_ways=20, num_inner_steps=5, test_num_inner_steps=10))
train_dataloader = dict(
    batch_size=16, dataset=dict(num_ways=20, num_shots=1, num_queries=1))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
