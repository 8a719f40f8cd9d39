# miniImageNet at 32x32 RGB: a reduced CPU protocol (the image side of
# CIFAR-FS), not the published 84x84 setting. Each split is decoded and
# resized once into memory (cache_images; 'area' interpolation from the
# 84x84 pre-cut images), so an item costs a copy; no loader workers (one
# thread per run on a 2-core machine). Transfer training adds horizontal
# flips; episodes use the test pipeline, as the MAML / ProtoNet references.
# Training, validation (100 episodes) and test episodes: 5-way 5-shot, as
# the study's.
_base_ = ['./mini_imagenet.py']

load_32px = [
    dict(type='LoadImage'),
    dict(type='Resize', scale=(32, 32), interpolation='area'),
]
train_pipeline = [
    *load_32px,
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]
test_pipeline = [
    *load_32px,
    dict(type='BGRToRGB'),
    dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
    dict(type='ImageToTensor', keys=['img'])
]
# RGB mean / std of the 32x32 train images; the configs' models normalise
# with them: model = dict(data_preprocessor=_base_.norm_32px)
norm_32px = dict(mean=[120.1, 114.8, 103.4], std=[69.3, 67.5, 71.0])
loader = dict(num_workers=0, persistent_workers=False)
episodes = dict(
    num_shots=5, dataset=dict(pipeline=test_pipeline, cache_images=True))

train_dataloader = dict(
    **loader,
    dataset=dict(pipeline=train_pipeline, cache_images=True))
meta_train_dataloader = test_dataloader = dict(**loader, dataset=episodes)
val_dataloader = dict(**loader, dataset=dict(episodes, num_episodes=100))
