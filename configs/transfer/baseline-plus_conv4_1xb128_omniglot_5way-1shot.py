# Baseline++ (Chen et al. 2019) on Omniglot: cosine head with a learned scale
# over the 4112 base classes; same test-time head as Baseline.
_base_ = ['./baseline_conv4_1xb128_omniglot_5way-1shot.py']

model = dict(head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
