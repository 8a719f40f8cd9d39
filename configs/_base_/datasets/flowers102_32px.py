# Oxford Flowers-102 for cross-domain meta-test on the 32x32 CPU protocol
# of ./mini_imagenet_32px.py (its pipelines, decoded-image cache and
# normalisation norm_32px, so that a miniImageNet 32px checkpoint meets
# the images it was trained on: each photo resized to 32x32, aspect ratio
# not kept, as miniImageNet's pre-cut images): the miniImageNet loaders
# for training and validation, the test episodes over all 102 classes (our
# split: every class a test class; see ./flowers102.py).
_base_ = ['./mini_imagenet_32px.py']

flowers102 = dict(
    type='FewShotImageFolder',
    data_root='data/flowers102',
    classes='classes.txt',
    split='all')
test_dataloader = dict(dataset=dict(dataset=flowers102))
