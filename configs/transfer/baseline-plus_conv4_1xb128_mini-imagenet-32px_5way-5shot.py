# Baseline++ (Chen et al. 2019) on the 32x32 miniImageNet CPU protocol (a
# reduction of the published 84x84 setting): the Baseline of
# ./baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py with a cosine
# training head (learned scale) over the 64 base classes; the test-time head
# is the cosine head started from the support class means.
_base_ = ['./baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py']

model = dict(head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
