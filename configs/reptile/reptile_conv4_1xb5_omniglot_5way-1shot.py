# Reptile (Nichol et al. 2018), Omniglot 5-way 1-shot: meta-batch 5 of 5-way
# 10-shot training episodes (the reference's train-shots 10, no query set),
# 5 full-batch SGD inner steps; 50 steps at meta-test; meta step size
# annealed linearly 1 -> 0 over 100k iterations.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/reptile_conv4.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=10, num_queries=0))
