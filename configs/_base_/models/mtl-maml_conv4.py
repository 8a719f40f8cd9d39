# MTL (Eshratifar et al. 2019) on the MAML reference's Omniglot network: the
# model of maml_conv4.py, its backbone shared, its head and inner loop the
# meta branch, plus a transfer branch on a C-way head over the 4112 Omniglot
# base classes (Vinyals train split with rotations), moved by (1 - beta) *
# meta + beta * transfer. beta = 0.1 as the authors' code. At meta-test:
# MAML's SGD fine-tuning of all weights on the support set.
_base_ = ['./maml_conv4.py']

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
        head=dict(_base_.model.head, num_classes=4112)),
    beta=0.1)
