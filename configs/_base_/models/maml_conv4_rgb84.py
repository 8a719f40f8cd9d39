# MAML (Finn et al. 2017) with the reference's miniImageNet network: 4 x
# [conv3x3 32 filters, BN, ReLU, 2x2 max-pool] on 84x84 RGB (32 x 5 x 5 = 800
# features), batch-statistics BN; 5 inner steps (10 at meta-test). Inner lr
# 0.05 on the mean cross-entropy = the reference's 0.01 on its summed / K
# loss at 5-way (see maml_conv4.py).
_base_ = ['./maml_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        in_channels=3, channels=(32, 32, 32, 32), pool=True, stride=1),
    head=dict(in_channels=800),
    adapter=dict(num_steps=5, lr=0.05, test_cfg=dict(num_steps=10)))
