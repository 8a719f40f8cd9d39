# MTL (Eshratifar et al. 2019) with the MAML meta branch of
# ../maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py (32x32 CPU
# protocol, first order, zero head) plus the transfer branch over the 64
# base classes on the features the meta branch computes (beta 0.1).
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/mtl-maml_conv4_rgb84.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(
        mean=[120.1, 114.8, 103.4], std=[69.3, 67.5, 71.0]),
    meta_branch=dict(
        head=dict(in_channels=128),
        first_order=True,
        zero_head=True,
        test_batch_size=50,
        test_line_search=True),
    transfer_branch=dict(head=dict(in_channels=128, num_classes=64)))
default_hooks = dict(checkpoint=dict(interval=2500))
