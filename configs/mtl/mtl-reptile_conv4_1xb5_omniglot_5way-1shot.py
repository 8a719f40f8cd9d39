# MTL (Eshratifar et al. 2019) with a Reptile meta branch, Omniglot 5-way
# 1-shot: the episodes, inner loop and schedule of
# ../reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py, plus the transfer
# branch (beta = 0.1).
_base_ = [
    '../_base_/datasets/omniglot_episodic.py',
    '../_base_/models/mtl-reptile_conv4.py',
    '../_base_/schedules/reptile_sgd_100k.py', '../_base_/default_runtime.py'
]

train_dataloader = dict(
    batch_size=5, dataset=dict(num_shots=10, num_queries=0))
