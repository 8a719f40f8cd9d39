# ProtoNet, Omniglot, meta-tested 5-way 5-shot: the 1-shot config trained on
# 60-way 5-shot episodes.
_base_ = ['./protonet_conv4_1xb1_omniglot_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
