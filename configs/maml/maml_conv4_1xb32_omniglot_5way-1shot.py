# MAML (Finn et al. 2017), Omniglot 5-way 1-shot, second order: the
# reference's network and inner loop (models/maml_conv4.py: 1 inner step, 3
# at meta-test, inner lr 0.4 on the mean cross-entropy, see there for the
# conversion from the reference's summed loss), meta-batch 32 of episodes
# with 1 query image per class (as the reference), Adam 1e-3.
# First order: --cfg-options model.first_order=True.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/maml_conv4.py', '../_base_/schedules/meta_adam_60k.py',
    '../_base_/default_runtime.py'
]
