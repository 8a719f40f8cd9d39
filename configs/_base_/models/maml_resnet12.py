# MAML (Finn et al. 2017) on a ResNet12 (640 features) for 84x84 RGB, batch-
# statistics BN: 2 second-order inner steps at lr 0.01 (5 at meta-test), as
# MMFewShot's ResNet12 MAML (second-order memory grows with the steps; set
# model.first_order=True to train with more).
_base_ = ['./maml_conv4.py']

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(_delete_=True, type='ResNet12', track_running_stats=False),
    head=dict(in_channels=640),
    adapter=dict(num_steps=2, lr=0.01, test_cfg=dict(num_steps=5)))
