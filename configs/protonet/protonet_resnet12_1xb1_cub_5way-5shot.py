# ProtoNet, CUB 5-way 5-shot, resnet12: the 1-shot config trained on
# 20-way 5-shot 15-query episodes (the authors' miniImageNet setting).
_base_ = ['./protonet_resnet12_1xb1_cub_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_ways=20, num_shots=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
