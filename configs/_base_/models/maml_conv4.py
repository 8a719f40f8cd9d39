# MAML (Finn et al. 2017) with the reference's Omniglot network: 4 x [conv3x3
# 64 filters stride 2, BN, ReLU] (28 -> 2x2x64 = 256 features, flattened) and
# a linear N-way head. BN policy 'batch': batch statistics in meta-training
# and meta-testing, as the reference (Conv4 without running statistics).
# Loss convention: mean cross-entropy. The reference sums per-example losses
# / K (N x the mean): its 0.4 (5-way) and 0.1 (20-way) are 2.0 on the mean
# for its spatially averaged 64 features. Conv4 flattens the 2x2x64 map (256
# features, ~5x the squared norm), so the same change of the logits per step
# needs ~5x less: inner_lr 0.4 (also the usual PyTorch mean-CE value).
model = dict(
    type='MAML',
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
    # the inner loop: 1 SGD step (3 at meta-test) from the meta-learned head
    adapter=dict(
        type='Finetune', num_steps=1, lr=0.4, test_cfg=dict(num_steps=3)),
    first_order=False,
    bn_policy='batch')
