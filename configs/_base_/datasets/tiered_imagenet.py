# tieredImageNet, Ren et al. split (351 / 97 / 160 classes), 84x84 RGB: the
# PNG-encoded images of the release are held in memory and decoded per item.
_base_ = ['./rgb84.py']

train_dataloader = dict(
    dataset=dict(type='TieredImageNet', data_root='data/tiered_imagenet'))
meta_train_dataloader = val_dataloader = test_dataloader = dict(
    dataset=dict(dataset=train_dataloader['dataset']))
