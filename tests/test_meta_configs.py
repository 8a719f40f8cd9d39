"""Every config builds and agrees with its name and its dataset. The name
{method}_{backbone}_{gpus}xb{batch}_{dataset}_{W}way-{K}shot is checked
against the built config and model: the method's classifier (and branch /
head / hook), the backbone's type, the dataset's type in every loader, the
meta-batch, and the test episodes' W-way K-shot; feature sizes match the
heads, the meta head's N matches the training episodes, the transfer head
has one output per base class. Configs are found by walking configs/, not
from a list of folders."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from mmmtl.registry import MODELS

CONFIGS = sorted(
    c for c in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in osp.relpath(c, osp.join(REPO, 'configs')).split(
        osp.sep))
BASE_CLASSES = {
    'omniglot': 4112,
    'mini-imagenet': 64,
    'mini-imagenet-32px': 64,
    'cub': 100,
    'cub-32px': 44,  # the base species of the 100-species subset
    'tiered-imagenet': 351
}
NAME = re.compile(r'^(?P<method>[a-z0-9-]+)_(?P<backbone>[a-z0-9]+)_'
                  r'(?P<gpus>\d+)xb(?P<batch>\d+)_(?P<dataset>[a-z0-9-]+)_'
                  r'(?P<ways>\d+)way-(?P<shots>\d+)shot\.py$')
# the words of the naming convention and what they mean in a config: a new
# method, backbone or dataset word must be added here
METHODS = {
    'maml': dict(type='MAML'),
    'reptile': dict(type='Reptile'),
    'protonet': dict(type='ProtoNet'),
    'mtl-maml': dict(type='MTL', meta_branch='MAML'),
    'mtl-reptile': dict(type='MTL', meta_branch='Reptile'),
    'mtl-ss': dict(type='MTLScaleShift', init='meta'),
    'mtl-ss-ht': dict(type='MTLScaleShift', init='meta', hook='HardTaskHook'),
    'mtl-ss-proto': dict(type='MTLScaleShift', init='prototypes'),
    'baseline': dict(type='TransferClassifier', head='LinearHead'),
    'baseline-plus': dict(type='TransferClassifier', head='CosineHead'),
}
# image side of the datasets not at 84x84 (Omniglot: 28, grey)
IMAGE_SIDES = {'mini-imagenet-32px': 32, 'cub-32px': 32}
BACKBONES = {'conv4': 'Conv4', 'resnet12': 'ResNet12', 'wrn': 'WRN'}
DATASETS = {
    'omniglot': 'Omniglot',
    'mini-imagenet': 'MiniImageNet',
    'mini-imagenet-32px': 'MiniImageNet',  # the 32x32 CPU protocol
    'cub': 'CUB',
    'cub-32px': 'CUB',  # the 32x32 CPU protocol
    'tiered-imagenet': 'TieredImageNet'
}


def dataset_type(loader) -> str:
    """The image dataset's type of a loader (inside EpisodicDataset)."""
    dataset = loader.dataset
    return (dataset.dataset.type
            if dataset.type == 'EpisodicDataset' else dataset.type)


def test_configs_are_found_and_named_by_the_convention():
    assert len(CONFIGS) >= 80
    assert {osp.basename(osp.dirname(c)) for c in CONFIGS} >= {
        'maml', 'reptile', 'protonet', 'mtl', 'mtl-ss', 'transfer'
    }
    for path in CONFIGS:
        match = NAME.match(osp.basename(path))
        assert match, path
        assert match['method'] in METHODS, path
        assert match['backbone'] in BACKBONES, path
        assert match['dataset'] in DATASETS, path


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_builds_and_matches_its_name(path):
    cfg = Config.fromfile(path)
    name = NAME.match(osp.basename(path))
    method = METHODS[name['method']]
    ways, shots = int(name['ways']), int(name['shots'])
    # the method
    assert cfg.model.type == method['type'], path
    if 'meta_branch' in method:
        assert cfg.model.meta_branch.type == method['meta_branch'], path
    if 'init' in method:
        assert cfg.model.adapter.get('head_init', 'meta') == method['init']
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert ('HardTaskHook' in hooks) == (method.get('hook') ==
                                         'HardTaskHook'), path
    if 'head' in method:
        assert cfg.model.head.type == method['head'], path
    # backbone, dataset, batch, test episodes
    # (an MTL model shares its meta branch's backbone)
    backbone = cfg.model.get('backbone') or cfg.model.meta_branch.backbone
    assert backbone.type == BACKBONES[name['backbone']], path
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert dataset_type(loader) == DATASETS[name['dataset']], path
    assert int(name['batch']) == cfg.train_dataloader.batch_size, path
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'EpisodicDataset', path
        assert (loader.dataset.num_ways, loader.dataset.num_shots) == (
            ways, shots), path
    train_episodes = cfg.train_dataloader.dataset
    episodic = train_episodes.type == 'EpisodicDataset'
    assert episodic == (method['type'] != 'TransferClassifier'), path
    if episodic:
        assert cfg.train_dataloader.sampler.type == 'EpisodeStreamSampler'

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == method['type']
    assert type(model.backbone).__name__ == BACKBONES[name['backbone']]
    omniglot = name['dataset'] == 'omniglot'
    side = IMAGE_SIDES.get(name['dataset'], 84)
    images = torch.rand(2, 1, 28, 28) if omniglot else torch.rand(
        2, 3, side, side)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(images)
    assert feats.dim() == 2
    meta = model.meta_branch if cfg.model.type == 'MTL' else model
    head = getattr(meta, 'head', getattr(meta, 'base_learner', None))
    if head is not None:
        in_features = (head.fc.in_features
                       if hasattr(head, 'fc') else head.weight.shape[1])
        assert in_features == feats.shape[1], path
    if episodic and head is not None:
        assert meta.num_ways == train_episodes.num_ways == ways, path
    transfer = (model.transfer_branch.head if cfg.model.type == 'MTL' else
                model.head if not episodic else None)
    if transfer is not None:
        out_features = (transfer.fc.out_features if hasattr(transfer, 'fc')
                        else transfer.weight.shape[0])
        assert out_features == BASE_CLASSES[name['dataset']], path
    if cfg.model.type == 'MTL':
        assert transfer.fc.in_features == feats.shape[1], path
        assert 0 < model.beta < 1
    if not episodic:
        with torch.no_grad():
            assert model.head(feats).shape == (2, out_features), path
