# CUB-200-2011, split of Chen et al. 2019 (100 / 50 / 50 classes of the
# sorted class folders), 84x84 RGB, images from data/CUB_200_2011/images.
_base_ = ['./rgb84.py']

train_dataloader = dict(
    dataset=dict(type='CUB', data_root='data/CUB_200_2011'))
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=train_dataloader['dataset']))
