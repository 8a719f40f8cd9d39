# Oxford Flowers-102 (Nilsback & Zisserman 2008) for cross-domain meta-test
# at 84x84: the miniImageNet loaders of ./mini_imagenet.py for training and
# validation, the test episodes over all 102 flower classes of
# data/flowers102 (NNN.species_name/image_XXXXX.jpg and classes.txt, the
# FewShotImageFolder layout). The split is ours: Flowers-102 defines no
# class split, and nothing here trains on it, so every class is a test
# class (split 'all'), as the VGG Flower part of Meta-Dataset. Decoded once
# into memory as 84x84 crops (173 MB), as the miniImageNet splits.
_base_ = ['./mini_imagenet.py']

flowers102 = dict(
    type='FewShotImageFolder',
    data_root='data/flowers102',
    classes='classes.txt',
    split='all')
test_dataloader = dict(dataset=dict(dataset=flowers102))
