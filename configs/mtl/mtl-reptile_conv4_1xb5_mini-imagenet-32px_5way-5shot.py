# MTL (Eshratifar et al. 2019) with the Reptile meta branch of
# ../reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot.py (32x32 CPU
# protocol, zero head, 10 fine-tuning steps at meta-test) plus the transfer
# branch over the 64 base classes on the features of each task's first inner
# step (beta 0.1), as the authors' code.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/mtl-reptile_conv4_rgb84.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(
        mean=[120.1, 114.8, 103.4], std=[69.3, 67.5, 71.0]),
    meta_branch=dict(
        head=dict(in_channels=128),
        test_num_inner_steps=10,
        zero_head=True,
        test_batch_size=50,
        test_line_search=True),
    transfer_branch=dict(head=dict(in_channels=128, num_classes=64)))
train_dataloader = dict(
    batch_size=5, dataset=dict(num_ways=5, num_shots=15, num_queries=0))
train_cfg = dict(val_interval=12500)
default_hooks = dict(checkpoint=dict(interval=12500))
