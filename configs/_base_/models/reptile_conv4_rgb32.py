# Reptile on the 32x32 miniImageNet CPU protocol of the MTL study
# (docs/mtl.md): the network and 8 inner SGD steps of reptile_conv4_rgb84.py
# at 32x32 (Conv4-32, 128 features), 10 steps at meta-test (the reference:
# 50; CPU cost) in class-balanced mini-batches of at most 50 support images
# with backtracking (line_search); zero head (one model for 5, 20 and
# 35 ways). The configs normalise with the 32x32 images' statistics
# (norm_32px of datasets/mini_imagenet_32px.py).
_base_ = ['./reptile_conv4_rgb84.py']

model = dict(
    head=dict(in_channels=128),
    adapter=dict(
        head_init='zero',
        batch_size=50,
        line_search=True,
        test_cfg=dict(num_steps=10)))
