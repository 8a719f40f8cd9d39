# Reptile, Omniglot 20-way 5-shot: the 1-shot config (the same training
# episodes), meta-tested 5-shot.
_base_ = ['./reptile_conv4_1xb5_omniglot_20way-1shot.py']

val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
