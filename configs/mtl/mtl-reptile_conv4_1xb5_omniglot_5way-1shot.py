# MTL (Eshratifar et al. 2019) on
# ../reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py as it is (episodes,
# schedule, runtime): its Reptile model the meta branch (backbone and data
# preprocessor shared), plus a transfer branch, a TransferClassifier with the
# Reptile head over the 4112 base classes (beta: MTL's default 0.1).
_base_ = ['../reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py']

model = dict(
    _delete_=True,
    type='MTL',
    meta_branch=_base_.model,
    transfer_branch=dict(head=dict(num_classes=4112)))
