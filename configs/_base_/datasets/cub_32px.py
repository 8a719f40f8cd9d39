# CUB-200-2011 on the 32x32 CPU protocol of ./mini_imagenet_32px.py (the
# same pipelines, decoded-image cache and normalisation norm_32px, so that
# CUB and miniImageNet 32px checkpoints are interchangeable): the class
# split of Chen et al. 2019 (./cub.py; base / val / novel species by class
# number). On the 100-species subset of ../shared/data/cub (data/
# CUB_200_2011) that is 44 / 28 / 28 species; on the full dataset
# 100 / 50 / 50.
_base_ = ['./mini_imagenet_32px.py']

cub = dict(type='CUB', data_root='data/CUB_200_2011')
train_dataloader = dict(dataset=cub)
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=cub))
