# Baseline on Omniglot, meta-validated and meta-tested 20-way 1-shot.
_base_ = ['./baseline_conv4_1xb128_omniglot_5way-1shot.py']

val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
