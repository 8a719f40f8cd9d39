# Omniglot, Vinyals et al. split (class = character + rotation), 28x28,
# inverted (strokes bright), decoded by the dataset; no loader workers.
# Training episodes: 32 per iteration, 1 query per class (the MAML
# reference).
_base_ = ['./few_shot.py']

pipeline = [dict(type='ImageToTensor', keys=['img'])]

train_dataloader = dict(
    num_workers=0,
    dataset=dict(type='Omniglot', data_root='data/omniglot',
                 pipeline=pipeline))
meta_train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(num_queries=1, dataset=train_dataloader['dataset']))
val_dataloader = test_dataloader = dict(
    num_workers=0, dataset=dict(dataset=train_dataloader['dataset']))
