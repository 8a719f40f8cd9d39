# Baseline (Chen et al. 2019): linear head over the 4112 base classes of
# Omniglot (1028 characters x 4 rotations); meta-test fine-tunes a new
# zero-initialised linear head on the support features.
_base_ = [
    '../_base_/datasets/omniglot.py', '../_base_/models/transfer_conv4.py',
    '../_base_/schedules/adam_16k.py', '../_base_/default_runtime.py'
]
