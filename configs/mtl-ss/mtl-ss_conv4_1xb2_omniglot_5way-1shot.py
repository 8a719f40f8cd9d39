# Sun et al. 2019 scaling and shifting on the Omniglot transfer baseline's
# Conv4, 5-way 1-shot: meta-batch 2 of 5-way 1-shot 15-query episodes.
# Set load_from to the baseline checkpoint (see _base_/models/mtl-ss_conv4.py).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-ss_conv4.py', '../_base_/schedules/ss_adam_20k.py',
    '../_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=2, dataset=dict(num_queries=15))
