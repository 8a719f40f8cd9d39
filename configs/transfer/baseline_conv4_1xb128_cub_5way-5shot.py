# Baseline on CUB with Conv4, meta-validated and meta-tested 5-way 5-shot.
_base_ = ['./baseline_conv4_1xb128_cub_5way-1shot.py']

val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
