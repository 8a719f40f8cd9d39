# Prototypical Networks (Snell et al. 2017): Conv4-64 with max-pooling (64
# features at 28x28), squared Euclidean distance to the class means. BN with
# running statistics, used at meta-test (non-transductive), as the authors.
model = dict(
    type='ProtoNet',
    data_preprocessor=dict(
        type='FewShotDataPreprocessor', mean=[0.0], std=[255.0]),
    backbone=dict(type='Conv4', in_channels=1, track_running_stats=True))
