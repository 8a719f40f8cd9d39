# CUB at 32x32 for meta-training: the train loader streams seeded episodes
# (meta_train_dataloader of few_shot.py).
_base_ = ['./cub_32px.py']

train_dataloader = dict(_delete_=True, **_base_.meta_train_dataloader)
