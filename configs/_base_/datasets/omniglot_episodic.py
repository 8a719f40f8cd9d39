# Omniglot (Vinyals split, 28x28, inverted) for meta-training: a stream of
# seeded N-way K-shot episodes over the train classes, T episodes per
# iteration. EpisodeStreamSampler makes the stream deterministic, resumable
# and split across ranks (W ranks x T episodes = 1 rank x W*T episodes).
# Meta-validation / meta-test: seeded episodes as in omniglot.py.
_base_ = ['./omniglot.py']

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(_delete_=True, type='EpisodeStreamSampler'),
    collate_fn=dict(type='episode_collate'),
    dataset=dict(
        _delete_=True,
        type='EpisodicDataset',
        num_ways=5,
        num_shots=1,
        num_queries=1,
        num_episodes=10_000_000,
        seed=0,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            pipeline={{_base_.pipeline}})))
