# MAML, CUB at 32x32, 5-way 1-shot: ./maml_conv4_1xb4_cub-32px_5way-5shot.py
# with 1-shot training, validation and test episodes.
_base_ = ['./maml_conv4_1xb4_cub-32px_5way-5shot.py']

shots = dict(dataset=dict(num_shots=1))
train_dataloader = val_dataloader = test_dataloader = shots
