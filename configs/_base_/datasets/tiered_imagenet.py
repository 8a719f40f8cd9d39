# tieredImageNet, Ren et al. split (351 / 97 / 160 classes), 84x84 RGB.
# The PNG-encoded images of the release are held in memory and decoded per
# item (LoadImage, BGR like mmcv); mmcv's colour transforms assume
# BGR, so BGRToRGB comes last and the model normalises with RGB ImageNet
# statistics (FewShotDataPreprocessor).
dataset_type = 'TieredImageNet'
data_root = 'data/tiered_imagenet'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='mmpretrain.RandomResizedCrop', scale=84),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='mmpretrain.ColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4),
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]
test_pipeline = [
    dict(type='LoadImage'),
    # pre-cut 84x84 images pass as they are; others: short edge 96, centre 84
    dict(type='ResizeCenterCrop', crop_size=84, resize_short=96),
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        type='EpisodicDataset',
        num_ways=5,
        num_shots=1,
        num_queries=15,
        num_episodes=300,
        seed=1,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='val',
            pipeline=test_pipeline)))
val_evaluator = dict(type='FewShotAccuracy')

test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        type='EpisodicDataset',
        num_ways=5,
        num_shots=1,
        num_queries=15,
        num_episodes=600,
        seed=0,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            split='test',
            pipeline=test_pipeline)))
test_evaluator = dict(type='FewShotAccuracy')
