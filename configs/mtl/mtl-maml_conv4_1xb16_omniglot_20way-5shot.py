# MTL with a MAML meta branch, Omniglot 20-way 5-shot: the 1-shot config
# with the 5-shot episodes of ../maml/maml_conv4_1xb16_omniglot_20way-5shot.py.
_base_ = ['./mtl-maml_conv4_1xb16_omniglot_20way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5, num_queries=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
