# MAML, Omniglot 5-way 5-shot: the 1-shot config with 5-shot episodes, 5
# query images per class in training (as the reference).
_base_ = ['./maml_conv4_1xb32_omniglot_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5, num_queries=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
