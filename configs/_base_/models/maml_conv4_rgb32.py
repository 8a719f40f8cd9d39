# MAML on the 32x32 miniImageNet CPU protocol of the MTL study
# (docs/mtl.md): the network of maml_conv4_rgb84.py at 32x32 (Conv4-32, 128
# features), 5 first-order inner steps at lr 0.05 (Finn et al.'s first order
# matched second order on miniImageNet, 48.07 vs 48.70, and Eshratifar et
# al.'s MAML is first order), 10 at meta-test in class-balanced mini-batches
# of at most 50 support images, each step halved while it does not lower the
# support loss (line_search, chosen on Omniglot validation episodes:
# docs/meta_learners.md). Zeroing trick (head_init='zero'): one model tests
# at 5, 20 and 35 ways. The configs normalise with the 32x32 images' statistics
# (norm_32px of datasets/mini_imagenet_32px.py).
_base_ = ['./maml_conv4_rgb84.py']

model = dict(
    head=dict(in_channels=128),
    first_order=True,
    adapter=dict(head_init='zero', batch_size=50, line_search=True))
