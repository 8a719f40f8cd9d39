# MTL (Eshratifar et al. 2019) on 84x84 RGB with a Reptile meta branch (the
# network and inner loop of reptile_conv4_rgb84.py), as the authors' code,
# plus a transfer branch on a C-way head over the base classes (64 for
# miniImageNet; configs set C); beta 0.1.
_base_ = ['./reptile_conv4_rgb84.py']

# the base model's backbone is shared; the rest of it is the meta branch
model = dict(
    _delete_=True,
    type='MTL',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    meta_branch={
        key: value
        for key, value in _base_.model.items()
        if key not in ('data_preprocessor', 'backbone')
    },
    transfer_branch=dict(
        type='TransferClassifier',
        head=dict(_base_.model.head, num_classes=64)),
    beta=0.1)
