# Sun et al. 2019 on the Omniglot baseline's Conv4, 5-way 5-shot: the 1-shot
# config with 5-shot episodes.
_base_ = ['./mtl-ss_conv4_1xb2_omniglot_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
