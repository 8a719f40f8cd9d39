"""tieredImageNet from pickled PNG bytes on tiny generated fixtures: class
counts and labels, lossless PNG decoding, corrupt-image and layout errors,
the prepare script and a tiny train + meta-test run."""
import glob
import importlib.util
import json
import os
import os.path as osp
import pickle
import random
import tarfile

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from conftest import assert_row_is_the_hand_run, hand_meta_test
from mmmtl.apis import test as test_api
from mmmtl.apis import train as train_api
from mmmtl.datasets import LoadImage, TieredImageNet
from mmmtl.registry import TRANSFORMS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# classes per split and images per class of the fixture
SPLIT_CLASSES = dict(train=3, val=2, test=2)
PER_CLASS = 4
SPLIT_OFFSET = dict(train=0, val=100, test=200)


def make_image(split: str, index: int) -> np.ndarray:
    """A 10x12 RGB image with pixel values unique to (split, index)."""
    rng = np.random.default_rng(SPLIT_OFFSET[split] + index)
    return rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    return buf.tobytes()


def labels_of(split: str) -> np.ndarray:
    """Class of every image, interleaved (not sorted by class)."""
    return np.tile(np.arange(SPLIT_CLASSES[split]), PER_CLASS)


def write_tiered(root: str, as_arrays: bool = False) -> str:
    """The release layout: {split}_images_png.pkl + {split}_labels.pkl.
    ``as_arrays`` stores each PNG as a uint8 array, like the original
    release."""
    os.makedirs(root, exist_ok=True)
    for split, num_classes in SPLIT_CLASSES.items():
        specific = labels_of(split)
        images = []
        for i in range(len(specific)):
            raw = png_bytes(make_image(split, i))
            images.append(np.frombuffer(raw, np.uint8) if as_arrays else raw)
        labels = dict(
            label_specific=specific,
            label_general=specific // 2,
            label_specific_str=[
                f'n{SPLIT_OFFSET[split] + c:08d}' for c in range(num_classes)
            ],
            label_general_str=[
                f'category{g}' for g in range((num_classes + 1) // 2)
            ])
        with open(osp.join(root, f'{split}_images_png.pkl'), 'wb') as f:
            pickle.dump(images, f)
        with open(osp.join(root, f'{split}_labels.pkl'), 'wb') as f:
            pickle.dump(labels, f)
    return root


@pytest.fixture
def tiered_root(tmp_path):
    return write_tiered(str(tmp_path / 'tiered_imagenet'))


def test_classes_and_labels(tiered_root):
    for split, num_classes in SPLIT_CLASSES.items():
        ds = TieredImageNet(data_root=tiered_root, split=split)
        assert ds.num_classes == num_classes
        assert ds.classes == tuple(f'n{SPLIT_OFFSET[split] + c:08d}'
                                   for c in range(num_classes))
        assert len(ds) == num_classes * PER_CLASS
        np.testing.assert_array_equal(ds.get_gt_labels(), labels_of(split))
        for c, idx in enumerate(ds.class_to_indices):
            np.testing.assert_array_equal(
                idx, np.flatnonzero(labels_of(split) == c))
        info = ds.get_data_info(5)
        assert info['general_label'] == labels_of(split)[5] // 2
        assert isinstance(info['img_bytes'], bytes)


@pytest.mark.parametrize('as_arrays', [False, True])
def test_png_bytes_round_trip(tmp_path, as_arrays):
    root = write_tiered(str(tmp_path / 'tiered'), as_arrays=as_arrays)
    rgb = TieredImageNet(
        data_root=root,
        split='val',
        pipeline=[
            dict(type='LoadImage', channel_order='rgb'),
            dict(type='mmpretrain.Collect', keys=['img', 'gt_label']),
            dict(type='ImageToTensor', keys=['img'])
        ])
    for i in range(len(rgb)):
        item = rgb[i]
        assert item['img'].dtype == torch.uint8
        np.testing.assert_array_equal(item['img'].permute(1, 2, 0).numpy(),
                                      make_image('val', i))
        assert item['gt_label'] == labels_of('val')[i]
    # default BGR decoding, then BGRToRGB: the same pixels
    bgr = TieredImageNet(
        data_root=root,
        split='val',
        pipeline=[
            dict(type='LoadImage'),
            dict(type='BGRToRGB'),
            dict(type='ImageToTensor', keys=['img'])
        ])
    np.testing.assert_array_equal(bgr[3]['img'].permute(1, 2, 0).numpy(),
                                  make_image('val', 3))


def seeded(fn, seed: int):
    """``fn()`` with every RNG seeded."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return fn()


def test_config_pipelines(tiered_root):
    """Item 2 of each split through the config's pipelines is that split's
    image 2 (decoded, BGR like mmcv) through the same transforms after
    LoadImage, in RGB, with its class: the test pipeline exactly; the
    train pipeline with the same seeds."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/tiered_imagenet.py'))
    for split, pipeline in (('train', cfg.train_pipeline),
                            ('test', cfg.test_pipeline)):
        dataset = TieredImageNet(
            data_root=tiered_root, split=split, pipeline=pipeline)
        after_loading = Compose(pipeline[1:])
        bgr = np.ascontiguousarray(make_image(split, 2)[..., ::-1])
        label = int(labels_of(split)[2])
        for seed in (0, 1):
            got = seeded(lambda: dataset[2], seed)
            expected = seeded(
                lambda: after_loading(dict(img=bgr.copy(), gt_label=label)),
                seed)
            assert set(got) == {'img', 'gt_label'}
            assert got['gt_label'] == label
            assert got['img'].shape == (3, 84, 84)
            assert got['img'].dtype == torch.uint8
            assert torch.equal(got['img'], expected['img'])
        if split == 'test':  # no augmentation: the resized image in RGB
            resized = TRANSFORMS.build(
                dict(type='ResizeCenterCrop', crop_size=84,
                     resize_short=96))(dict(img=bgr.copy()))['img']
            assert torch.equal(got['img'], torch.from_numpy(
                np.ascontiguousarray(resized[..., ::-1].transpose(2, 0, 1))))


def test_corrupt_image_names_the_index(tiered_root):
    path = osp.join(tiered_root, 'test_images_png.pkl')
    with open(path, 'rb') as f:
        images = pickle.load(f)
    images[3] = images[3][:20]  # truncated PNG
    with open(path, 'wb') as f:
        pickle.dump(images, f)
    ds = TieredImageNet(
        data_root=tiered_root,
        split='test',
        pipeline=[dict(type='LoadImage')])
    ds[2]
    with pytest.raises(ValueError, match='dataset index 3'):
        ds[3]
    with pytest.raises(ValueError, match='dataset index 0'):
        LoadImage()(dict(img_bytes=b'not an image', sample_idx=0))


def test_layout_errors(tiered_root):
    os.remove(osp.join(tiered_root, 'val_images_png.pkl'))
    with pytest.raises(FileNotFoundError,
                       match=r'val_images_png\.pkl not found.*Expected'):
        TieredImageNet(data_root=tiered_root, split='val')
    os.remove(osp.join(tiered_root, 'test_labels.pkl'))
    with pytest.raises(FileNotFoundError, match=r'test_labels\.pkl'):
        TieredImageNet(data_root=tiered_root, split='test')
    labels_path = osp.join(tiered_root, 'train_labels.pkl')
    with open(labels_path, 'rb') as f:
        labels = pickle.load(f)
    with open(labels_path, 'wb') as f:
        pickle.dump(dict(labels, label_specific=labels['label_specific'][1:]),
                    f)
    with pytest.raises(ValueError, match='12 images but .* 11 '
                       'label_specific'):
        TieredImageNet(data_root=tiered_root, split='train')
    del labels['label_general_str']
    with open(labels_path, 'wb') as f:
        pickle.dump(labels, f)
    with pytest.raises(ValueError, match=r"lacks the keys \['label_general"):
        TieredImageNet(data_root=tiered_root, split='train')
    with pytest.raises(ValueError, match='unknown split'):
        TieredImageNet(data_root=tiered_root, split='trainval')


def load_tool(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_from_archive(tiered_root, tmp_path):
    archive = str(tmp_path / 'tiered-imagenet.tar')
    with tarfile.open(archive, 'w') as tar:
        tar.add(tiered_root, arcname='tiered-imagenet')
    prepare = load_tool('tools/data/prepare_tiered_imagenet.py',
                        'prepare_tiered_imagenet')
    out = str(tmp_path / 'out')
    prepare.main(['--archive', archive, '--out', out])
    assert TieredImageNet(data_root=out, split='train').num_classes == 3
    linked = str(tmp_path / 'linked')
    prepare.main(['--src', tiered_root, '--out', linked])
    assert osp.islink(osp.join(linked, 'val_labels.pkl'))
    os.remove(osp.join(tiered_root, 'val_labels.pkl'))
    with pytest.raises(FileNotFoundError, match=r'val_labels\.pkl'):
        prepare.main(['--src', tiered_root, '--out', str(tmp_path / 'bad')])


def test_train_and_meta_test_tools(tiered_root, tmp_path):
    train = train_api
    test = test_api
    config = osp.join(
        REPO, 'configs/transfer/'
        'baseline_conv4_1xb128_tiered-imagenet_5way-1shot.py')
    work_dir = str(tmp_path / 'work')
    options = [
        f'train_dataloader.dataset.data_root={tiered_root}',
        f'val_dataloader.dataset.dataset.data_root={tiered_root}',
        f'test_dataloader.dataset.dataset.data_root={tiered_root}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'val_dataloader.dataset.num_ways=2',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=2', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'model.adapter.num_steps=5'
    ]
    train.main([config, '--work-dir', work_dir, '--cfg-options', *options])
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(checkpoint)
    test.main([
        config, checkpoint, '--work-dir', work_dir, '--ways', '2',
        '--queries', '2', '--episodes', '2', '--cfg-options', *options
    ])
    (result, ) = glob.glob(
        osp.join(work_dir, '**', 'meta_test_*.json'), recursive=True)
    with open(result) as f:
        (row, ) = json.load(f)['results']
    assert row['num_ways'] == 2 and row['num_episodes'] == 2
    assert_row_is_the_hand_run(
        row,
        hand_meta_test(config, checkpoint, options, ways=2, queries=2,
                       episodes=2))
