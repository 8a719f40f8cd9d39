"""Every meta-learner and MTL config builds, and agrees with its name and its
dataset: feature sizes match the heads, the meta head's N matches the
training episodes, the transfer head has one output per base class, the
test episodes are the name's W-way K-shot."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from mmmtl.registry import MODELS

CONFIGS = sorted(
    c for c in glob.glob(osp.join(REPO, 'configs', '*', '*.py'))
    if '_base_' not in c)
META_CONFIGS = [
    c for c in CONFIGS
    if osp.basename(osp.dirname(c)) in ('maml', 'protonet', 'reptile', 'mtl',
                                        'mtl-ss')
]
BASE_CLASSES = {'omniglot': 4112, 'mini-imagenet': 64, 'cub': 100}
NAME = re.compile(r'^(?P<method>[a-z0-9-]+)_(?P<backbone>[a-z0-9]+)_'
                  r'(?P<gpus>\d+)xb(?P<batch>\d+)_(?P<dataset>[a-z-]+)_'
                  r'(?P<ways>\d+)way-(?P<shots>\d+)shot\.py$')


def test_every_config_is_named_by_the_convention():
    assert len(META_CONFIGS) >= 50
    for path in CONFIGS:
        match = NAME.match(osp.basename(path))
        assert match, path
        folder = osp.basename(osp.dirname(path))
        methods = {
            'transfer': ('baseline', 'baseline-plus'),
            'mtl': ('mtl-maml', 'mtl-reptile'),
            'mtl-ss': ('mtl-ss', 'mtl-ss-ht', 'mtl-ss-proto')
        }.get(folder, (folder, ))
        assert match['method'] in methods, path


@pytest.mark.parametrize(
    'path', META_CONFIGS, ids=[osp.basename(c) for c in META_CONFIGS])
def test_meta_config_builds_and_matches_its_name(path):
    cfg = Config.fromfile(path)
    name = NAME.match(osp.basename(path))
    ways, shots = int(name['ways']), int(name['shots'])
    assert int(name['batch']) == cfg.train_dataloader.batch_size
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert (loader.dataset.num_ways, loader.dataset.num_shots) == (ways,
                                                                       shots)
    train_episodes = cfg.train_dataloader.dataset
    assert train_episodes.type == 'EpisodicDataset'
    assert cfg.train_dataloader.sampler.type == 'EpisodeStreamSampler'

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    omniglot = name['dataset'] == 'omniglot'
    images = torch.rand(2, 1, 28, 28) if omniglot else torch.rand(2, 3, 84, 84)
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
        assert meta.num_ways == train_episodes.num_ways == ways, path
    if cfg.model.type == 'MTL':
        head = model.transfer_branch.head.fc
        assert head.in_features == feats.shape[1], path
        assert head.out_features == BASE_CLASSES[name['dataset']], path
        assert 0 < cfg.model.beta < 1
