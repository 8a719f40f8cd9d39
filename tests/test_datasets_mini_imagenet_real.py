"""Real miniImageNet, where it is present ($MMMTL_MINI_IMAGENET or
<repo>/data/mini_imagenet; build it with ../shared/data/mini_imagenet/
build.sh, see docs/datasets.md): split sizes, the 36 unseen classes, large
episodes, pre-cut pixels reaching the model as in the files, and the cache.
Never in CI (the images are not redistributable): skipped there."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from mmmtl.datasets import EpisodicDataset, MiniImageNet, episode_collate
from test_datasets_mini_imagenet import (check_episode, check_val_plus_test,
                                        file_rgb)


def find_mini_imagenet():
    for path in (os.environ.get('MMMTL_MINI_IMAGENET'),
                 osp.join(REPO, 'data', 'mini_imagenet')):
        if path and osp.isfile(osp.join(path, 'test.csv')) and osp.isdir(
                osp.join(path, 'images')):
            return osp.abspath(path)
    return None


ROOT = find_mini_imagenet()
pytestmark = pytest.mark.skipif(
    ROOT is None,
    reason='real miniImageNet not found: set MMMTL_MINI_IMAGENET to a '
    'folder with images/ and train/val/test.csv, or build it at '
    'data/mini_imagenet (docs/datasets.md)')


def test_split_sizes_and_unseen_classes():
    sizes = {}
    for split in ('train', 'val', 'test'):
        ds = MiniImageNet(data_root=ROOT, split=split)
        assert ds.resolved_layout == 'precut'
        sizes[split] = (ds.num_classes, len(ds))
    assert sizes == dict(train=(64, 38400), val=(16, 9600), test=(20, 12000))
    unseen = check_val_plus_test(ROOT, 16, 20)
    assert (unseen.num_classes, len(unseen)) == (36, 21600)
    for episodes in (EpisodicDataset(unseen, 35, 100, 15, num_episodes=3),
                     EpisodicDataset(unseen, 20, 100, 15, num_episodes=3)):
        for index in range(3):
            check_episode(episodes, index, episodes.num_ways, 100, 15)
    test = MiniImageNet(data_root=ROOT, split='test')
    with pytest.raises(ValueError, match=r"split 'test' .* has 20 classes"):
        EpisodicDataset(test, 35, 1, 15, num_episodes=1)


def test_precut_pixels_reach_the_model_and_cache_agrees():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    kwargs = dict(
        data_root=ROOT, split='val', pipeline=cfg.test_pipeline,
        indices=list(range(0, 9600, 30)))  # 20 images of each of 16 classes
    plain = MiniImageNet(**kwargs)
    cached = MiniImageNet(cache_images=True, **kwargs)
    assert cached.num_classes == 16 and len(cached) == 320
    episodes = EpisodicDataset(plain, 5, 1, 15, num_episodes=1, seed=0)
    batch = episode_collate([episodes[0]])
    paths = [plain.get_data_info(int(i))['img_path']
             for i in batch['indices'][0]]
    expected = torch.stack(
        [torch.from_numpy(file_rgb(p)).permute(2, 0, 1) for p in paths])
    assert torch.equal(batch['img'][0], expected)
    for i in range(len(plain)):
        assert torch.equal(cached[i]['img'], plain[i]['img'])
    assert cached.cached_bytes == 320 * 84 * 84 * 3
    np.testing.assert_array_equal(cached.get_gt_labels(),
                                  plain.get_gt_labels())
