# MAML, CUB 5-way 5-shot, conv4: the 1-shot config with 5-shot episodes.
_base_ = ['./maml_conv4_1xb4_cub_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
