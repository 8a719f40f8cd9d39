# CUB-200-2011 for cross-domain meta-test on the 32x32 CPU protocol of
# ./mini_imagenet_32px.py (see ./flowers102_32px.py): the miniImageNet
# loaders for training and validation, the test episodes over every
# species present in data/CUB_200_2011/images (split 'all' of
# FewShotImageFolder: 100 species on the subset of ../shared/data/cub, 200
# on the full dataset), not only the novel ones: nothing here trains on CUB.
_base_ = ['./mini_imagenet_32px.py']

cub_all = dict(
    type='FewShotImageFolder',
    data_root='data/CUB_200_2011/images',
    split='all')
test_dataloader = dict(dataset=dict(dataset=cub_all))
