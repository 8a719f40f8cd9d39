# miniImageNet, Ravi & Larochelle split (64 / 16 / 20 classes), 84x84 RGB,
# images from data/mini_imagenet/images (ImageNet class folders or pre-cut
# files, see docs/datasets.md).
_base_ = ['./rgb84.py']

train_dataloader = dict(
    dataset=dict(type='MiniImageNet', data_root='data/mini_imagenet'))
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=train_dataloader['dataset']))
