# miniImageNet, Ravi & Larochelle split (64 / 16 / 20 classes), 84x84 RGB,
# images from data/mini_imagenet/images (ImageNet class folders or pre-cut
# files, see docs/datasets.md). Each split is decoded once into memory
# (cache_images: 813 MB for the pre-cut train split, 5 s; per item where
# the split would not fit in a quarter of the memory, as full-size ImageNet
# files ahead of the transfer schedule's random crop).
_base_ = ['./rgb84.py']

train_dataloader = dict(
    dataset=dict(
        type='MiniImageNet', data_root='data/mini_imagenet',
        cache_images=True))
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=train_dataloader['dataset']))
