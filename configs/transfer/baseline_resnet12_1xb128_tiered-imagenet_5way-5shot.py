# Baseline on tieredImageNet with ResNet12, meta-validated and meta-tested
# 5-way 5-shot.
_base_ = ['./baseline_resnet12_1xb128_tiered-imagenet_5way-1shot.py']

val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
