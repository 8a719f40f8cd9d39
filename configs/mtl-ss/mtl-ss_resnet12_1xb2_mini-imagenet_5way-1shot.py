# Sun et al. 2019 on miniImageNet, 5-way 1-shot (the paper's setting):
# ResNet12 pretrained by configs/transfer/baseline_resnet12_1xb128_mini-
# imagenet_5way-1shot.py (pass its checkpoint as load_from), meta-batch 2
# of 5-way 1-shot 15-query episodes, 600 test episodes.
_base_ = [
    '../_base_/datasets/mini_imagenet_episodic.py',
    '../_base_/models/mtl-ss_resnet12.py',
    '../_base_/schedules/ss_adam_20k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=2)
