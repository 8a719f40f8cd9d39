# MTL (Eshratifar et al. 2019) with a Reptile meta branch, as the authors'
# code (a fork of Nichol et al.'s supervised-reptile): the Omniglot network
# and inner loop of reptile_conv4.py, plus a transfer branch on a C-way head
# over the 4112 Omniglot base classes; beta = 0.1. The Reptile update
# (shared - adapted) and the transfer gradient are averaged and applied by
# SGD with the annealed meta step size. At meta-test: Reptile's 50 SGD
# fine-tuning steps on the support set.
_base_ = ['./reptile_conv4.py']

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
