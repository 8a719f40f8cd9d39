# Sun et al. 2019 on miniImageNet, 5-way 5-shot (the paper's setting): the
# 1-shot config with 5-shot episodes.
_base_ = ['./mtl-ss_resnet12_1xb2_mini-imagenet_5way-1shot.py']

train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = test_dataloader = dict(dataset=dict(num_shots=5))
