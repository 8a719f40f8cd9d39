# Baseline++ (Chen et al. 2019) on tieredImageNet with ResNet12: cosine head
# with a learned scale over the 351 base classes; meta-test fine-tunes a new
# cosine head started from the class means (weight imprinting).
_base_ = ['./baseline_resnet12_1xb128_tiered-imagenet_5way-1shot.py']

model = dict(
    head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
