# Sun et al. 2019 with hard-task (HT) meta-batches: after every meta-batch,
# one more over the 5 classes with the lowest query accuracy, new images.
_base_ = ['./mtl-ss_resnet12_1xb2_mini-imagenet_5way-1shot.py']

custom_hooks = [dict(type='HardTaskHook', interval=1)]
