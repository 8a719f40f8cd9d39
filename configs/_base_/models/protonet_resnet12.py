# Prototypical Networks (Snell et al. 2017) on a ResNet12 (640 features) for
# 84x84 RGB, running-statistics BN.
_base_ = ['./protonet_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(_delete_=True, type='ResNet12', track_running_stats=True))
