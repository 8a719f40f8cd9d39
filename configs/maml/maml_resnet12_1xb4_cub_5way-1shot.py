# MAML (Finn et al. 2017), CUB 5-way 1-shot, resnet12: meta-batch 4 of
# 5-way 1-shot 15-query episodes (the reference's miniImageNet setting); the
# inner loop of models/maml_resnet12.py.
_base_ = [
    '../_base_/datasets/cub_episodic.py', '../_base_/models/maml_resnet12.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]
