# Reptile (Nichol et al. 2018) on the 32x32 miniImageNet CPU protocol
# (../_base_/datasets/mini_imagenet_32px.py; a reduction of the published
# 84x84 setting): Conv4-32, meta-batch 5 of 5-way 15-shot training episodes
# (the reference's train-shots), 8 inner SGD steps, 10 at meta-test (the
# reference: 50; CPU cost) in class-balanced mini-batches of at most 50
# support images with backtracking (test_line_search); zero head (one
# model for 5, 20 and 35 ways); eps annealed 1 -> 0. Train it for a CPU
# budget with --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/reptile_conv4_rgb84.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(
        mean=[120.1, 114.8, 103.4], std=[69.3, 67.5, 71.0]),
    head=dict(in_channels=128),
    test_num_inner_steps=10,
    zero_head=True,
    test_batch_size=50,
    test_line_search=True)
train_dataloader = dict(
    batch_size=5, dataset=dict(num_ways=5, num_shots=15, num_queries=0))
train_cfg = dict(val_interval=12500)
default_hooks = dict(checkpoint=dict(interval=12500))
