# MTL (Eshratifar et al. 2019) on 84x84 RGB: the ResNet12 and MAML inner loop
# of maml_resnet12.py as the meta branch, plus a transfer branch on a C-way
# head over the base classes (64 for miniImageNet; configs set C); beta 0.1.
_base_ = ['./maml_resnet12.py']

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
