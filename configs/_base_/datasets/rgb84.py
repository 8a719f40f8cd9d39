# The 84x84 RGB benchmarks (miniImageNet, tieredImageNet, CUB): images
# decoded per item by LoadImage (a file or encoded bytes, BGR like mmcv);
# mmcv's colour transforms assume BGR, so BGRToRGB comes last and the model
# normalises with RGB ImageNet statistics (FewShotDataPreprocessor).
# Transfer training augments: crops and flips per image here, colour jitter
# on the whole batch in the model's data preprocessor (the transfer configs
# set model.data_preprocessor.batch_augments=train_batch_augments: 4x less
# CPU time than mmpretrain's per-image ColorJitter, docs/speed.md); episodes
# use the test pipeline (no augmentation, as the MAML and ProtoNet
# references).
_base_ = ['./few_shot.py']

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='mmpretrain.RandomResizedCrop', scale=84),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]
train_batch_augments = [
    dict(
        type='BatchColorJitter', brightness=0.4, contrast=0.4, saturation=0.4)
]
test_pipeline = [
    dict(type='LoadImage'),
    # pre-cut 84x84 images pass as they are; others: short edge 96, centre 84
    dict(type='ResizeCenterCrop', crop_size=84, resize_short=96),
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=dict(pipeline=test_pipeline)))
