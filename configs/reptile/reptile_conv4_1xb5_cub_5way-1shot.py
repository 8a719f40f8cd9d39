# Reptile (Nichol et al. 2018), CUB 5-way 1-shot: meta-batch 5 of
# 5-way 15-shot training episodes (the reference's train-shots 15, no query
# set), 8 inner steps, 50 at meta-test; eps annealed 1 -> 0.
_base_ = [
    '../_base_/datasets/cub_episodic.py',
    '../_base_/models/reptile_conv4_rgb84.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=15, num_queries=0))
