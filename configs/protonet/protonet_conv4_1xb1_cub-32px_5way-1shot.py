# ProtoNet, CUB at 32x32, 5-way 1-shot: the 5-shot config with 20-way
# 1-shot training episodes and 1-shot validation and test episodes.
_base_ = ['./protonet_conv4_1xb1_cub-32px_5way-5shot.py']

shots = dict(dataset=dict(num_shots=1))
train_dataloader = val_dataloader = test_dataloader = shots
