# Baseline++ (Chen et al. 2019) on miniImageNet with ResNet12: cosine head with
# a learned scale over the 64 base classes; the test-time
# head is the base model's (a cosine head started from the class means).
_base_ = ['./baseline_resnet12_1xb128_mini-imagenet_5way-1shot.py']

model = dict(
    head=dict(type='CosineHead', scale=10.0, learnable_scale=True))
