# Reptile, Omniglot 20-way 1-shot: the 5-way config with 20-way 10-shot
# training episodes.
_base_ = ['./reptile_conv4_1xb5_omniglot_5way-1shot.py']

model = dict(num_ways=20)
train_dataloader = dict(dataset=dict(num_ways=20))
val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
