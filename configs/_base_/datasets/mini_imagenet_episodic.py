# miniImageNet for meta-training: a stream of seeded N-way K-shot episodes over
# the train classes, T episodes per iteration (EpisodeStreamSampler: the
# same stream on every run, after resume, split across ranks). No
# augmentation (as the MAML and ProtoNet references): the test pipeline.
_base_ = ['./mini_imagenet.py']

train_dataloader = dict(
    batch_size=4,
    sampler=dict(_delete_=True, type='EpisodeStreamSampler'),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        _delete_=True,
        type='EpisodicDataset',
        num_ways=5,
        num_shots=1,
        num_queries=15,
        num_episodes=10_000_000,
        seed=0,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            pipeline={{_base_.test_pipeline}})))
