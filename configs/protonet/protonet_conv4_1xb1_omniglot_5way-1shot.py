# Prototypical Networks (Snell et al. 2017), Omniglot, meta-tested 5-way
# 1-shot: trained on 60-way 1-shot episodes with 5 queries per class, one
# episode per iteration.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/protonet_conv4.py',
    '../_base_/schedules/protonet_adam_20k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=1, dataset=dict(num_ways=60, num_queries=5))
