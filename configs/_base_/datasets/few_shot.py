# The loaders of a few-shot benchmark; a dataset base fills in the image
# dataset (type, data_root, pipeline) of each. Training: plain batches over
# the base classes (transfer learning), or, made the train loader by the
# *_episodic.py bases, meta_train_dataloader: a stream of seeded N-way
# K-shot episodes over the train classes, T per iteration
# (EpisodeStreamSampler: the same stream on every run, after resume, split
# across ranks). Meta-validation and meta-test: seeded 5-way 1-shot
# 15-query episodes, 300 of the val classes (seed 1) and 600 of the test
# classes (seed 0); a leaf changes only the ways and shots.
train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(split='train'))

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
        dataset=dict(split='val')))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(
        val_dataloader['dataset'],
        num_episodes=600,
        seed=0,
        dataset=dict(split='test')))
meta_train_dataloader = dict(
    val_dataloader,
    batch_size=4,
    sampler=dict(type='EpisodeStreamSampler'),
    dataset=dict(
        val_dataloader['dataset'],
        num_episodes=10_000_000,
        seed=0,
        dataset=dict(split='train')))

val_evaluator = dict(type='FewShotAccuracy')
test_evaluator = dict(type='FewShotAccuracy')
