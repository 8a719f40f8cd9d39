# MAML (Finn et al. 2017), Omniglot 20-way 1-shot on a CPU budget, as
# maml_conv4_1xb8_omniglot_5way-1shot.py: the reference network, second
# order, inner lr 0.4 with 1 inner step (5 at meta-test; the reference: 5 and
# 10), meta-batch 4 (reference 16), Adam 1e-3 decayed to 0 by a cosine over
# 20k meta-iterations.
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/maml_conv4.py',
    '../_base_/schedules/meta_adam_cosine_20k.py',
    '../_base_/default_runtime.py'
]

model = dict(num_ways=20, num_inner_steps=1, test_num_inner_steps=5)
train_dataloader = dict(
    batch_size=4, dataset=dict(num_ways=20, num_shots=1, num_queries=1))
val_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
test_dataloader = dict(dataset=dict(num_ways=20, num_shots=1))
default_hooks = dict(checkpoint=dict(interval=2500))
