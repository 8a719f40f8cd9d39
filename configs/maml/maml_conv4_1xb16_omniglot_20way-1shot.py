# MAML (Finn et al. 2017), Omniglot 20-way 1-shot, second order:
# 5 inner steps in training, 10 at meta-test; meta-batch 16;
# 1 query image per class in training (as the reference); Adam 1e-3.
# Inner lr 0.4 on the mean cross-entropy (see maml_conv4.py for the
# conversion from the reference's summed loss).
# First order: --cfg-options model.first_order=True.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/maml_conv4.py',
    '../_base_/schedules/meta_adam_60k.py', '../_base_/default_runtime.py'
]

model = dict(num_ways=20, num_inner_steps=5, test_num_inner_steps=10)
train_dataloader = dict(
    batch_size=16, dataset=dict(num_ways=20, num_shots=1, num_queries=1))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
