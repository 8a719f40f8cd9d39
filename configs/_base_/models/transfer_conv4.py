# Transfer-learning baseline on a Conv4 backbone (Chen et al. 2019).
model = dict(
    type='TransferClassifier',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor', mean=[0.0], std=[255.0]),
    backbone=dict(type='Conv4', in_channels=1, track_running_stats=True),
    head=dict(type='LinearHead', in_channels=64, num_classes=4112),
    finetune_cfg=dict(
        head=dict(type='LinearHead', zero_init=True),
        num_steps=100,
        lr=0.5,
        init='module'))
