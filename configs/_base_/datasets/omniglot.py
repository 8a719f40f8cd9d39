# Omniglot, Vinyals et al. split (class = character + rotation), 28x28,
# inverted (strokes bright). Plain batches over the base classes for
# training; seeded episodes for meta-validation and meta-testing.
dataset_type = 'Omniglot'
data_root = 'data/omniglot'
pipeline = [dict(type='ImageToTensor', keys=['img'])]

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=pipeline))

val_dataloader = dict(
    batch_size=1,
    num_workers=0,
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
            pipeline=pipeline)))
val_evaluator = dict(type='FewShotAccuracy')

test_dataloader = dict(
    batch_size=1,
    num_workers=0,
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
            pipeline=pipeline)))
test_evaluator = dict(type='FewShotAccuracy')
