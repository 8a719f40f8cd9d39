# Prototypical Networks (Snell et al. 2017), miniImageNet 5-way 1-shot,
# resnet12: trained on 30-way 1-shot 15-query episodes (the authors'
# miniImageNet setting), one episode per iteration.
_base_ = [
    '../_base_/datasets/mini_imagenet_episodic.py',
    '../_base_/models/protonet_resnet12.py',
    '../_base_/schedules/protonet_adam_20k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=1, dataset=dict(num_ways=30))
