# MAML (Finn et al. 2017) on the 32x32 miniImageNet CPU protocol
# (../_base_/datasets/mini_imagenet_32px.py; a reduction, not the published
# 84x84 setting): Conv4-32 (128 features at 32x32), meta-batch 4 of 5-way
# 5-shot 15-query episodes, 5 first-order inner steps at lr 0.05 (Finn et
# al.'s first order matched second order on miniImageNet, 48.07 vs 48.70,
# and Eshratifar et al.'s MAML is first order), 10 at meta-test in
# class-balanced mini-batches of at most 50 support images, each step
# halved while it does not lower the support loss (test_line_search, chosen
# on Omniglot validation episodes: docs/meta_learners.md). Zeroing trick
# (zero_head): one model tests at 5, 20 and 35 ways. Cosine-decayed Adam;
# train it for a CPU budget with --time-budget MIN --fit-schedule.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/maml_conv4_rgb84.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(
        mean=[120.1, 114.8, 103.4], std=[69.3, 67.5, 71.0]),
    head=dict(in_channels=128),
    first_order=True,
    zero_head=True,
    test_batch_size=50,
    test_line_search=True)
default_hooks = dict(checkpoint=dict(interval=2500))
