# Baseline++ (Chen et al. 2019) on CUB with Conv4: cosine head with a learned
# scale over the 100 base classes; meta-test fine-tunes a new cosine head
# started from the class means (weight imprinting).
_base_ = ['./baseline_conv4_1xb128_cub_5way-1shot.py']

model = dict(
    head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
