# Prototypical Networks (Snell et al. 2017), Omniglot, meta-tested 20-way
# 5-shot: trained on 60-way 5-shot episodes with 5 queries per class,
# one episode per iteration.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/protonet_conv4.py',
    '../_base_/schedules/protonet_adam_20k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=1, dataset=dict(num_ways=60, num_shots=5, num_queries=5))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=5))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=5))
