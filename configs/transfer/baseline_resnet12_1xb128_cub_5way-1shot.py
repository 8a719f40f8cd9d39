# Baseline (Chen et al. 2019) on CUB: a ResNet12 (640 features) with a linear
# head over the 100 base classes; meta-test fine-tunes a new zero-initialised
# linear head on the support features.
_base_ = [
    '../_base_/datasets/cub.py',
    '../_base_/models/transfer_resnet12.py',
    '../_base_/schedules/adam_16k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(batch_augments=_base_.train_batch_augments),
    head=dict(num_classes=100))
