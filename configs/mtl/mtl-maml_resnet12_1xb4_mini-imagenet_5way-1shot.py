# MTL (Eshratifar et al. 2019) on
# ../maml/maml_resnet12_1xb4_mini-imagenet_5way-1shot.py as it is (episodes,
# schedule, runtime): its MAML model the meta branch (backbone and data
# preprocessor shared), plus a transfer branch, a TransferClassifier with the
# MAML head over the 64 base classes (beta: MTL's default 0.1).
_base_ = ['../maml/maml_resnet12_1xb4_mini-imagenet_5way-1shot.py']

model = dict(
    _delete_=True,
    type='MTL',
    meta_branch=_base_.model,
    transfer_branch=dict(head=dict(num_classes=64)))
