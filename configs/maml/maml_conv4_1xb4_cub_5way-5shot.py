# MAML (Finn et al. 2017), CUB 5-way 5-shot, conv4: meta-batch 4
# of 5-way 5-shot 15-query episodes (the reference's miniImageNet
# setting); the inner loop of models/maml_conv4_rgb84.py.
_base_ = [
    '../_base_/datasets/cub_episodic.py',
    '../_base_/models/maml_conv4_rgb84.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=4, dataset=dict(num_ways=5, num_shots=5, num_queries=15))
val_dataloader = dict(dataset=dict(num_ways=5, num_shots=5))
test_dataloader = dict(dataset=dict(num_ways=5, num_shots=5))
