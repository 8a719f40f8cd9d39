# MAML (Finn et al. 2017), Omniglot 20-way 1-shot on the CPU budget of
# maml_conv4_1xb8_omniglot_5way-1shot.py (second order, 1 inner step,
# cosine-decayed Adam over 20k meta-iterations) with meta-batch 4 and 5 inner
# steps at meta-test (the reference: meta-batch 16, 5 and 10 steps).
_base_ = ['./maml_conv4_1xb8_omniglot_5way-1shot.py']

model = dict(num_ways=20, adapter=dict(test_cfg=dict(num_steps=5)))
train_dataloader = dict(batch_size=4, dataset=dict(num_ways=20))
val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
