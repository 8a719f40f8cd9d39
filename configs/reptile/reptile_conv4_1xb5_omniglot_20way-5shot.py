# Reptile (Nichol et al. 2018), Omniglot 20-way 5-shot: meta-batch 5
# of 20-way 10-shot training episodes (the reference's train-shots 10, no
# query set), 5 full-batch SGD inner steps; 50 steps at meta-test; meta step
# size annealed linearly 1 -> 0 over 100k iterations.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/reptile_conv4.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

model = dict(num_ways=20)
train_dataloader = dict(
    batch_size=5, dataset=dict(num_ways=20, num_shots=10, num_queries=0))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=5))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=5))
