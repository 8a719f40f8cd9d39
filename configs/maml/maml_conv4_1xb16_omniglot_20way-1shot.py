# MAML (Finn et al. 2017), Omniglot 20-way 1-shot, second order, as the
# reference: the 5-way config with meta-batch 16, 5 inner steps in
# training, 10 at meta-test.
_base_ = ['./maml_conv4_1xb32_omniglot_5way-1shot.py']

model = dict(
    num_ways=20, adapter=dict(num_steps=5, test_cfg=dict(num_steps=10)))
train_dataloader = dict(batch_size=16, dataset=dict(num_ways=20))
val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
