# Sun et al. 2019 scaling and shifting on the 32x32 miniImageNet CPU protocol
# (a reduction of their ResNet12 84x84 setting): the Conv4-32 of
# configs/transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py,
# frozen, with meta-learned scaling and shifting and an FC 128 -> 5 base
# learner; meta-batch 2 of 5-way 5-shot 15-query episodes. Pass the
# baseline's checkpoint as load_from.
_base_ = [
    '../_base_/datasets/mini_imagenet_32px_episodic.py',
    '../_base_/models/mtl-ss_conv4.py', '../_base_/schedules/ss_adam_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    data_preprocessor=_base_.norm_32px,
    backbone=dict(in_channels=3, channels=(32, 32, 32, 32)),
    base_learner=dict(in_channels=128))
train_dataloader = dict(batch_size=2)
