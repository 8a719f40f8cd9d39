# Baseline (Chen et al. 2019) on CUB: a Conv4 (1600 features at 84x84) with a
# linear head over the 100 base classes; meta-test: a new cosine
# head started from the support class means, fine-tuned on the frozen
# features (linear SGD head: docs/transfer_baseline.md).
_base_ = [
    '../_base_/datasets/cub.py',
    '../_base_/models/transfer_conv4_rgb84.py',
    '../_base_/schedules/adam_16k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=dict(batch_augments=_base_.train_batch_augments),
    head=dict(num_classes=100))
