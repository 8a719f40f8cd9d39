# Baseline (Chen et al. 2019) on Omniglot: linear head over the 4112 base
# classes (1028 characters x 4 rotations); meta-test fine-tunes a new cosine
# head started from the support class means.
_base_ = [
    '../_base_/datasets/omniglot.py', '../_base_/models/transfer_conv4.py',
    '../_base_/schedules/adam_8k.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(interval=1000))
