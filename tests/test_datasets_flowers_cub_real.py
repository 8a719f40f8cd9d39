"""Real Flowers-102 and the real CUB subset, where they are present
($MMMTL_FLOWERS102 or <repo>/data/flowers102; $MMMTL_CUB or
<repo>/data/CUB_200_2011; built by ../shared/data/{flowers102,cub}/build.sh):
class and image counts of the configs' datasets, and episodes at 32x32.
Skipped where absent (never in CI: the images are not redistributable),
failed instead when MMMTL_REQUIRE_DATA names them."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import REPO, find_real_folder
from mmmtl.datasets import CUB, FewShotImageFolder
from mmmtl.registry import DATASETS


@pytest.fixture(scope='module')
def flowers_root():
    return find_real_folder(
        'flowers102', 'MMMTL_FLOWERS102', 'data/flowers102', 'classes.txt',
        'bash ../shared/data/flowers102/build.sh, see docs/datasets.md')


@pytest.fixture(scope='module')
def cub_root():
    return find_real_folder(
        'cub', 'MMMTL_CUB', 'data/CUB_200_2011', 'images',
        'bash ../shared/data/cub/build.sh, see docs/datasets.md')


def test_flowers102_all_classes(flowers_root):
    ds = FewShotImageFolder(flowers_root, classes='classes.txt')
    folders = sorted(
        name for name in os.listdir(flowers_root)
        if osp.isdir(osp.join(flowers_root, name)))
    # classes.txt lists the 102 folders in their numbered order
    assert ds.classes == tuple(folders)
    assert len(folders) == 102
    assert len(ds) == 8189
    sizes = [len(idx) for idx in ds.class_to_indices]
    assert (min(sizes), max(sizes)) == (40, 258)


def episodes_of(config: str, root: str, ways: int):
    """Two seeded 1-shot episodes of the config's test loader on ``root``,
    decoded per item (not cached: a test reads a few images only)."""
    cfg = Config.fromfile(osp.join(REPO, config))
    episodes_cfg = cfg.test_dataloader.dataset
    episodes_cfg.dataset.update(data_root=root, cache_images=False)
    episodes_cfg.update(
        num_ways=ways, num_shots=1, num_queries=1, num_episodes=2)
    return DATASETS.build(episodes_cfg)


def test_flowers102_32px_episodes(flowers_root):
    episodes = episodes_of(
        'configs/_base_/datasets/flowers102_32px.py', flowers_root, ways=20)
    assert episodes.dataset.num_classes == 102
    item = episodes[1]
    assert item['img'].shape == (40, 3, 32, 32)
    assert len(set(item['gt_label'].tolist())) == 20


def test_cub_subset_splits(cub_root):
    sizes = {
        split: (ds.num_classes, len(ds))
        for split, ds in ((s, CUB(data_root=cub_root, split=s))
                          for s in ('train', 'val', 'test'))
    }
    assert sizes == dict(train=(44, 2584), val=(28, 1655), test=(28, 1663))


def test_cub_all_species_is_the_union_of_the_splits(cub_root):
    episodes = episodes_of(
        'configs/_base_/datasets/cub_all_32px.py',
        osp.join(cub_root, 'images'),
        ways=5)
    every = episodes.dataset
    assert (every.num_classes, len(every)) == (100, 5902)
    union = set()
    for split in ('train', 'val', 'test'):
        union |= set(CUB(data_root=cub_root, split=split).classes)
    assert set(every.classes) == union
    assert episodes[0]['img'].shape == (10, 3, 32, 32)
