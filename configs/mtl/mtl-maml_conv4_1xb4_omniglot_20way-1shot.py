# MTL (Eshratifar et al. 2019) with a MAML meta branch, Omniglot 20-way
# 1-shot: the CPU budget of ../maml/maml_conv4_1xb4_omniglot_20way-1shot.py
# plus the transfer branch (beta = 0.1).
_base_ = ['./mtl-maml_conv4_1xb8_omniglot_5way-1shot.py']

model = dict(meta_branch=dict(num_ways=20, test_num_inner_steps=5))
train_dataloader = dict(batch_size=4, dataset=dict(num_ways=20))
val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
