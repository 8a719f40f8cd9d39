# Transfer-learning baseline on a ResNet12 backbone (640 features after
# global average pooling) for 84x84 RGB images, normalised with the ImageNet
# mean / std in 0-255 RGB. num_classes is the number of base classes of the
# dataset (64 for miniImageNet; configs override it).
model = dict(
    type='TransferClassifier',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(type='ResNet12', track_running_stats=True),
    head=dict(type='LinearHead', in_channels=640, num_classes=64),
    adapter=dict(
        type='Finetune',
        adapt='head.',
        head=dict(type='CosineHead', scale=10.0),
        head_init='prototypes',
        num_steps=100,
        lr=0.5))
