# Baseline++ (Chen et al. 2019) on CUB at 32x32: the Baseline of
# ./baseline_conv4_1xb128_cub-32px_5way-5shot.py with a cosine training
# head (learned scale) over the base species; the test-time head is the
# cosine head started from the support class means.
_base_ = ['./baseline_conv4_1xb128_cub-32px_5way-5shot.py']

model = dict(head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
