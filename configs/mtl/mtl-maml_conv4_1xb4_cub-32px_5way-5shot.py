# MTL (Eshratifar et al. 2019) on
# ../maml/maml_conv4_1xb4_cub-32px_5way-5shot.py as it is (episodes,
# schedule, runtime): its MAML model the meta branch, plus a transfer
# branch, a TransferClassifier with the MAML head over the base species
# (beta: MTL's default 0.1): 44 base species on the 100-species subset of
# data/CUB_200_2011; set 100 on the full dataset.
_base_ = ['../maml/maml_conv4_1xb4_cub-32px_5way-5shot.py']

model = dict(
    _delete_=True,
    type='MTL',
    meta_branch=_base_.model,
    transfer_branch=dict(head=dict(num_classes=44)))
