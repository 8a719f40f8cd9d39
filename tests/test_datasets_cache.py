"""``cache_images=True``: a split decoded once into memory gives the same
items as per-item decoding (pre-cut and ImageNet-folder miniImageNet,
tieredImageNet's PNG bytes, CUB's mixed sizes, a random train pipeline),
without touching the files again; clear errors where it cannot apply."""
import logging
import os
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from conftest import REPO
from mmmtl.datasets import CUB, MiniImageNet, Omniglot, TieredImageNet
from test_datasets_mini_imagenet import write_precut
from test_datasets_tiered_imagenet import write_tiered

CLASSES = dict(
    train=['n01000001', 'n01000002'],
    val=['n02000001', 'n02000002'],
    test=['n03000001', 'n03000002'])


def mini_cfg() -> Config:
    return Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))


def assert_same_items(cached, plain, seeded: bool = False) -> None:
    assert len(cached) == len(plain)
    for i in range(len(plain)):
        if seeded:  # same random state for the random transforms
            random.seed(i)
            np.random.seed(i)
        a = cached[i]
        if seeded:
            random.seed(i)
            np.random.seed(i)
        b = plain[i]
        assert set(a) == set(b)
        assert a['gt_label'] == b['gt_label']
        assert a['img'].dtype == b['img'].dtype
        assert torch.equal(a['img'], b['img']), f'item {i} differs'


@pytest.fixture
def precut_root(tmp_path):
    return write_precut(str(tmp_path / 'mini'), CLASSES, per_class=3)


def test_a_cache_over_its_memory_limit_decodes_per_item(precut_root):
    """A split that would take more than cache_max_bytes (full-size ImageNet
    files ahead of a random crop) is decoded per item, with a warning naming
    the size and the limit; the items are those of per-item decoding."""
    cfg = mini_cfg()
    plain = MiniImageNet(data_root=precut_root, split='val',
                         pipeline=cfg.test_pipeline)
    limit = 6 * 84 * 84 * 3 - 1  # one byte short of the split
    logger = MMLogger.get_current_instance()
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        capped = MiniImageNet(data_root=precut_root, split='val',
                              pipeline=cfg.test_pipeline, cache_images=True,
                              cache_max_bytes=limit)
    finally:
        logger.removeHandler(handler)
    assert any('would take about 0.0 GB, over cache_max_bytes' in m
               and 'decoding per item' in m for m in seen), seen
    assert not capped.cache_images and capped.cached_bytes == 0
    assert capped.cached_transforms == []
    assert 'img_path' in capped.data_list[0]
    assert_same_items(capped, plain)
    fits = MiniImageNet(data_root=precut_root, split='val',
                        pipeline=cfg.test_pipeline, cache_images=True,
                        cache_max_bytes=limit + 1)
    assert fits.cache_images and fits.cached_bytes == limit + 1


def test_precut_cache_equals_per_item_decoding(precut_root):
    cfg = mini_cfg()
    plain = MiniImageNet(data_root=precut_root, split='val',
                         pipeline=cfg.test_pipeline)
    cached = MiniImageNet(data_root=precut_root, split='val',
                          pipeline=cfg.test_pipeline, cache_images=True)
    # the loader and the (here pass-through) crop ran once per image
    assert [type(t).__name__ for t in cached.cached_transforms] == [
        'LoadImage', 'ResizeCenterCrop']
    assert [type(t).__name__ for t in cached.pipeline.transforms] == [
        'BGRToRGB', 'Collect', 'ImageToTensor']
    # one contiguous uint8 array, 84x84 BGR as mmcv decodes
    imgs = [cached.data_list[i]['img'] for i in range(len(cached))]
    assert all(img.base is imgs[0].base for img in imgs)
    assert imgs[0].base.shape == (6, 84, 84, 3)
    assert imgs[0].dtype == np.uint8
    assert cached.cached_bytes == 6 * 84 * 84 * 3
    assert_same_items(cached, plain)
    # per-item loading is indexing: the files are no longer read
    for name in os.listdir(osp.join(precut_root, 'images')):
        os.remove(osp.join(precut_root, 'images', name))
    with pytest.raises(Exception):
        plain[0]
    item = cached[0]
    assert item['img'].shape == (3, 84, 84)
    # an item is a copy: writing into it leaves the cache intact
    before = cached[1]['img'].clone()
    item = cached[1]
    item['img'].zero_()
    assert torch.equal(cached[1]['img'], before)


def test_random_train_pipeline_sees_the_same_images(precut_root):
    """Random transforms after the cached prefix draw the same crops and
    flips from the same random state."""
    cfg = mini_cfg()
    plain = MiniImageNet(data_root=precut_root, split='train',
                         pipeline=cfg.train_pipeline)
    cached = MiniImageNet(data_root=precut_root, split='train',
                          pipeline=cfg.train_pipeline, cache_images=True)
    assert [type(t).__name__ for t in cached.cached_transforms] == [
        'LoadImage']
    assert_same_items(cached, plain, seeded=True)


def test_imagenet_layout_caches_the_cropped_image(tmp_path):
    """Full-size files: the cache holds the 84x84 test crop, not the
    decoded file (which would need ~560 KB per ImageNet image)."""
    root = str(tmp_path / 'mini')
    rng = np.random.default_rng(0)
    os.makedirs(root)
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.write('filename,label\n')
        for c, wnid in enumerate(CLASSES['test']):
            folder = osp.join(root, 'images', wnid)
            os.makedirs(folder)
            for k, size in enumerate([(130, 100), (100, 150), (97, 97)], 1):
                pixels = rng.integers(0, 256, (size[1], size[0], 3),
                                      dtype=np.uint8)
                Image.fromarray(pixels).save(
                    osp.join(folder, f'{wnid}_{10 * k}.JPEG'), quality=90)
                f.write(f'{wnid}{k:08d}.jpg,{wnid}\n')
    cfg = mini_cfg()
    plain = MiniImageNet(data_root=root, split='test',
                         pipeline=cfg.test_pipeline)
    cached = MiniImageNet(data_root=root, split='test',
                          pipeline=cfg.test_pipeline, cache_images=True)
    assert cached.resolved_layout == 'imagenet'
    assert cached.data_list[0]['img'].base.shape == (6, 84, 84, 3)
    assert_same_items(cached, plain)


def test_mixed_sizes_are_cached_one_array_each(tmp_path):
    """CUB-like full-size images of different sizes, load-only prefix."""
    rng = np.random.default_rng(1)
    for c in range(2):  # class 001 -> train, 002 -> val
        folder = osp.join(str(tmp_path), 'cub', 'images', f'00{c + 1}.Bird')
        os.makedirs(folder)
        for k, size in enumerate([(20, 16), (20, 16), (15, 22)]):
            pixels = rng.integers(0, 256, (size[1], size[0], 3),
                                  dtype=np.uint8)
            Image.fromarray(pixels).save(osp.join(folder, f'b_{k}.jpg'))
    root = osp.join(str(tmp_path), 'cub')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='ImageToTensor', keys=['img'])]
    plain = CUB(data_root=root, split='train', pipeline=pipeline)
    cached = CUB(data_root=root, split='train', pipeline=pipeline,
                 cache_images=True)
    shapes = [cached.data_list[i]['img'].shape for i in range(3)]
    assert shapes == [(16, 20, 3), (16, 20, 3), (22, 15, 3)]
    assert all(cached.data_list[i]['img'].base is None for i in range(3))
    assert cached.cached_bytes == 2 * 16 * 20 * 3 + 22 * 15 * 3
    assert_same_items(cached, plain)


def test_tiered_png_bytes_cache(tmp_path):
    root = write_tiered(str(tmp_path / 'tiered'))
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/tiered_imagenet.py'))
    # the fixture's 10x12 images go through the resize + crop
    plain = TieredImageNet(data_root=root, split='test',
                           pipeline=cfg.test_pipeline)
    cached = TieredImageNet(data_root=root, split='test',
                            pipeline=cfg.test_pipeline, cache_images=True)
    assert 'img_bytes' not in cached.data_list[0]
    assert cached.data_list[0]['general_label'] == \
        plain.data_list[0]['general_label']
    assert_same_items(cached, plain)


def test_cache_errors(tmp_path, precut_root, tiny_omniglot):
    omniglot_root, _ = tiny_omniglot
    with pytest.raises(ValueError,
                       match=r"Omniglot \(split='train'\): cache_images=True "
                             'needs a pipeline that starts with an image '
                             'loading transform'):
        Omniglot(omniglot_root, split='train', cache_images=True,
                 pipeline=[dict(type='ImageToTensor', keys=['img'])])
    with pytest.raises(ValueError, match='serialize_data=True'):
        MiniImageNet(data_root=precut_root, split='val', cache_images=True,
                     serialize_data=True,
                     pipeline=[dict(type='LoadImageFromFile')])
    # a corrupt file is named while caching
    with open(osp.join(precut_root, 'images', 'n0200000200000002.jpg'),
              'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(ValueError,
                       match=r"split='val'\): cache_images: item 4 .*"
                             r'n0200000200000002\.jpg'):
        MiniImageNet(data_root=precut_root, split='val', cache_images=True,
                     pipeline=[dict(type='LoadImageFromFile')])
