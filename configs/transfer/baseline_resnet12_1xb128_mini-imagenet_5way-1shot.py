# Baseline (Chen et al. 2019) on miniImageNet: a ResNet12 (640 features) with a
# linear head over the 64 base classes; meta-test: a new cosine
# head started from the support class means, fine-tuned on the frozen
# features (linear SGD head: docs/transfer_baseline.md).
_base_ = [
    '../_base_/datasets/mini_imagenet.py',
    '../_base_/models/transfer_resnet12.py',
    '../_base_/schedules/adam_16k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(batch_augments=_base_.train_batch_augments))
