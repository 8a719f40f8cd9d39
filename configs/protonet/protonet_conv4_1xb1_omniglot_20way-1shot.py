# ProtoNet, Omniglot: the 5-way config (the same training episodes),
# meta-tested 20-way 1-shot.
_base_ = ['./protonet_conv4_1xb1_omniglot_5way-1shot.py']

val_dataloader = test_dataloader = dict(dataset=dict(num_ways=20))
