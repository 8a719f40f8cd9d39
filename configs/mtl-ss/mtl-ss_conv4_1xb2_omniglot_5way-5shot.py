# Sun et al. 2019 scaling and shifting on the Omniglot transfer baseline's
# Conv4, 5-way 5-shot: meta-batch 2 of 5-way 5-shot 15-query episodes.
# Set load_from to the baseline checkpoint (see _base_/models/mtl-ss_conv4.py).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-ss_conv4.py', '../_base_/schedules/ss_adam_20k.py',
    '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=2, dataset=dict(num_ways=5, num_shots=5, num_queries=15))
val_dataloader = dict(dataset=dict(num_ways=5, num_shots=5))
test_dataloader = dict(dataset=dict(num_ways=5, num_shots=5))
