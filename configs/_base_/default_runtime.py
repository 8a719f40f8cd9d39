default_scope = 'mmmtl'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # metrics of a validation are logged at the training iteration (not at
    # epoch 0), so curves and TensorBoard have them on the same axis
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keeps the last checkpoints for resuming and the best one by
    # meta-validation accuracy for testing
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=2,
        save_best='accuracy_mean',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # training_curves.png in the work dir at the end of training, from the
    # scalar log below (default_hooks.curves.filename=None skips it)
    curves=dict(type='TrainingCurvesHook'),
)

# mmengine's scalar log, <work_dir>/<timestamp>/vis_data/scalars.json. For
# TensorBoard as well (pip install -e ".[tensorboard]"), either train with
# `tools/train.py CONFIG --tensorboard`, or switch it on in a config:
#   visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
#                                   dict(type='FewShotTensorboardVisBackend')])
# (event files in <work_dir>/<timestamp>/vis_data/;
# `tensorboard --logdir work_dirs`)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# scalars named train/<key> and val/<key> in scalars.json and TensorBoard
# (the text log keeps the plain training names)
log_processor = dict(by_epoch=False, window_size=100, log_with_hierarchy=True)
log_level = 'INFO'
# checkpoints load strictly (every key and shape must match; tools/test.py and
# --resume always do); a config starting from part of another model's
# checkpoint on purpose sets load_from_strict = False (see mtl-ss_conv4.py)
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
