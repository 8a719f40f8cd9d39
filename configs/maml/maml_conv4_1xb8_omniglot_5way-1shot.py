# MAML (Finn et al. 2017), Omniglot 5-way 1-shot, sized for about 30 minutes
# of one CPU thread: the reference network and inner loop (second order,
# inner lr 0.4, 1 step; 3 at meta-test; 1 query per class) with meta-batch 8
# and Adam 1e-3 decayed to 0 by a cosine over 20k meta-iterations (the
# reference: batch 32, constant lr, 60k). Results: docs/meta_learners.md.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/maml_conv4.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=8)
default_hooks = dict(checkpoint=dict(interval=2500))
