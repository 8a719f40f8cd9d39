# MTL (Eshratifar et al. 2019) on the 32x32 miniImageNet CPU protocol: the
# network and first-order MAML inner loop of maml_conv4_rgb32.py as the meta
# branch, plus a transfer branch over the 64 base classes on the features
# the meta branch computes; beta 0.1.
_base_ = ['./maml_conv4_rgb32.py']

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
