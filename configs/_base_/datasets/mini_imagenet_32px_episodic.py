# miniImageNet at 32x32 (mini_imagenet_32px.py) for meta-training: a stream
# of seeded episodes over the train classes, T per iteration, the test
# pipeline (no augmentation).
_base_ = ['./mini_imagenet_32px.py']

train_dataloader = dict(
    batch_size=4,
    sampler=dict(_delete_=True, type='EpisodeStreamSampler'),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        _delete_=True,
        type='EpisodicDataset',
        num_ways=5,
        num_shots=5,
        num_queries=15,
        num_episodes=10_000_000,
        seed=0,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            pipeline={{_base_.test_pipeline}},
            cache_images=True)))
