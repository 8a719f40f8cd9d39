# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 20-way
# 1-shot: the episodes, inner loop and schedule of
# ../maml/maml_conv4_1xb16_omniglot_20way-1shot.py, plus the transfer branch
# (beta = 0.1).
_base_ = ['./mtl-maml_conv4_1xb32_omniglot_5way-1shot.py']

model = dict(
    meta_branch=dict(num_ways=20, num_inner_steps=5, test_num_inner_steps=10))
train_dataloader = dict(batch_size=16, dataset=dict(num_ways=20))
val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
