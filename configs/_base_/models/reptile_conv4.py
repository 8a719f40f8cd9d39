# Reptile (Nichol et al. 2018) on the reference's Omniglot network (4 x
# [conv3x3 64 filters stride 2, BN, ReLU], 256 features) with a linear
# N-way head; batch-statistics BN (transductive, as the reference). Inner
# loop: full-batch SGD on the mean cross-entropy (the reference uses Adam
# mini-batches); 50 steps at meta-test.
model = dict(
    type='Reptile',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor', mean=[0.0], std=[255.0]),
    backbone=dict(
        type='Conv4',
        in_channels=1,
        track_running_stats=False,
        pool=False,
        stride=2),
    head=dict(type='LinearHead', in_channels=256),
    num_ways=5,
    adapter=dict(
        type='Finetune', num_steps=5, lr=0.5, test_cfg=dict(num_steps=50)),
    bn_policy='batch')
