# MAML (Finn et al. 2017) on CUB at 32x32 (../_base_/datasets/cub_32px.py:
# the CPU protocol of the miniImageNet 32px study, a reduction of
# MMFewShot's 84x84 ./maml_conv4_1xb4_cub_5way-1shot.py): the first-order
# Conv4-32 MAML of models/maml_conv4_rgb32.py, meta-batch 4 of 5-way 5-shot
# 15-query episodes of the base species, validated on the val species,
# cosine-decayed Adam; train it for a CPU budget with
# --time-budget MIN --fit-schedule (benchmarks/cub_study.sh).
_base_ = [
    '../_base_/datasets/cub_32px_episodic.py',
    '../_base_/models/maml_conv4_rgb32.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(data_preprocessor=_base_.norm_32px)
default_hooks = dict(checkpoint=dict(interval=2500))
