"""miniImageNet in both layouts on tiny generated fixtures: class counts,
label mapping, CSV-name -> file resolution, clear layout errors, the 84x84
pipelines (pre-cut images reach the model as their files), the prepare
script, a tiny train + meta-test run, the 36-class val+test split and
35-way / 100-shot episodes."""
import glob
import importlib.util
import json
import os
import os.path as osp
import random
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from PIL import Image

from conftest import assert_row_is_the_hand_run, hand_meta_test
from mmmtl.apis import test as test_api
from mmmtl.apis import train as train_api
from mmmtl.datasets import (BGRToRGB, EpisodicDataset, MiniImageNet,
                            episode_collate)
from mmmtl.registry import MODELS, TRANSFORMS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# CSV order of first appearance differs from sorted order on purpose
SPLIT_CLASSES = dict(
    train=['n01000003', 'n01000001', 'n01000002'],
    val=['n02000002', 'n02000001'],
    test=['n03000001', 'n03000002'])
# image numbers in a class folder: gaps (no _1, _2, _4) and numeric order
# (3 < 7 < 10 < 25 < 100) differing from string order ('10' < '100' < '25')
NUMBERS = [100, 7, 25, 3, 10]
BY_NUMBER = sorted(NUMBERS)
CSV_K = [1, 2, 4, 5]  # the k-th image by number, 1-based


def colour(wnid: str, k: int) -> tuple:
    """A distinct RGB colour per (class, k) with R, G, B all different; R
    tells the class (classes of a split 37 apart), G and B the image."""
    c = int(wnid[1:]) % 97
    return ((40 + 37 * c) % 256, 200 - 30 * k, 90 + 3 * k)


def csv_name(wnid: str, k: int) -> str:
    return f'{wnid}{k:08d}.jpg'


def write_csvs(root: str) -> None:
    for split, wnids in SPLIT_CLASSES.items():
        with open(osp.join(root, f'{split}.csv'), 'w') as f:
            f.write('filename,label\n')
            for wnid in wnids:
                for k in CSV_K:
                    f.write(f'{csv_name(wnid, k)},{wnid}\n')


def solid(rgb: tuple, size=(12, 10)) -> Image.Image:
    return Image.new('RGB', size, rgb)


def write_imagenet_layout(root: str) -> str:
    """images/<wnid>/<wnid>_<num>.JPEG; the k-th by number has colour k."""
    os.makedirs(root)
    write_csvs(root)
    for wnids in SPLIT_CLASSES.values():
        for wnid in wnids:
            folder = osp.join(root, 'images', wnid)
            os.makedirs(folder)
            for number in NUMBERS:
                k = BY_NUMBER.index(number) + 1
                solid(colour(wnid, k)).save(
                    osp.join(folder, f'{wnid}_{number}.JPEG'), quality=95)
            with open(osp.join(folder, 'readme.txt'), 'w') as f:
                f.write('not an image')
    return root


def write_precut_layout(root: str) -> str:
    """images/<CSV file name>, colour of (class, k)."""
    os.makedirs(osp.join(root, 'images'))
    write_csvs(root)
    for wnids in SPLIT_CLASSES.values():
        for wnid in wnids:
            for k in CSV_K:
                solid(colour(wnid, k)).save(
                    osp.join(root, 'images', csv_name(wnid, k)), quality=95)
    return root


@pytest.fixture
def imagenet_root(tmp_path):
    return write_imagenet_layout(str(tmp_path / 'mini_folders'))


@pytest.fixture
def precut_root(tmp_path):
    return write_precut_layout(str(tmp_path / 'mini_precut'))


def check_splits(root: str, layout: str) -> None:
    for split, wnids in SPLIT_CLASSES.items():
        ds = MiniImageNet(data_root=root, split=split)
        assert ds.resolved_layout == layout
        assert ds.classes == tuple(wnids)
        assert ds.num_classes == len(wnids)
        assert len(ds) == len(wnids) * len(CSV_K)
        for c, idx in enumerate(ds.class_to_indices):
            assert len(idx) == len(CSV_K)
            for i in idx:
                assert ds.get_data_info(int(i))['gt_label'] == c


def test_imagenet_layout_resolves_kth_image_by_number(imagenet_root):
    check_splits(imagenet_root, 'imagenet')
    ds = MiniImageNet(data_root=imagenet_root, split='train')
    names = [osp.basename(ds.get_data_info(i)['img_path'])
             for i in range(len(ds))]
    expected = [f'{w}_{BY_NUMBER[k - 1]}.JPEG'
                for w in SPLIT_CLASSES['train'] for k in CSV_K]
    assert names == expected  # e.g. n0100000300000005.jpg -> _100.JPEG
    assert names[:4] == ['n01000003_3.JPEG', 'n01000003_7.JPEG',
                         'n01000003_25.JPEG', 'n01000003_100.JPEG']
    for i in range(len(ds)):
        path = ds.get_data_info(i)['img_path']
        assert path.startswith(osp.join(imagenet_root, 'images'))
        assert osp.isfile(path)


def test_precut_layout(precut_root):
    check_splits(precut_root, 'precut')
    ds = MiniImageNet(data_root=precut_root, split='val')
    assert [ds.get_data_info(i)['img_path'] for i in range(len(ds))] == [
        osp.join(precut_root, 'images', csv_name(w, k))
        for w in SPLIT_CLASSES['val'] for k in CSV_K
    ]
    with pytest.raises(FileNotFoundError, match='class folder .*n02000002'):
        MiniImageNet(data_root=precut_root, split='val', layout='imagenet')


@pytest.mark.parametrize('layout', ['imagenet', 'precut'])
def test_pipeline_gives_rgb_84x84(tmp_path, layout):
    """The config pipelines: uint8 [3, 84, 84], RGB order, only img and
    gt_label; the pixels are those of the k-th image."""
    root = str(tmp_path / 'mini')
    (write_imagenet_layout if layout == 'imagenet' else
     write_precut_layout)(root)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    ds = MiniImageNet(
        data_root=root, split='test', pipeline=cfg.test_pipeline)
    for i in (0, 6):
        item = ds[i]
        assert set(item) == {'img', 'gt_label'}
        assert item['img'].dtype == torch.uint8
        assert item['img'].shape == (3, 84, 84)
        wnid = SPLIT_CLASSES['test'][item['gt_label']]
        k = CSV_K[i % len(CSV_K)]
        mean = item['img'].float().mean(dim=(1, 2)).numpy()
        np.testing.assert_allclose(mean, colour(wnid, k), atol=4)
    train = MiniImageNet(
        data_root=root, split='train', pipeline=cfg.train_pipeline)
    item = train[3]
    assert set(item) == {'img', 'gt_label'}
    assert item['img'].shape == (3, 84, 84)
    assert item['img'].dtype == torch.uint8


def seeded(transform, results: dict, seed: int) -> dict:
    """``transform`` on a copy of ``results`` with every RNG seeded."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return transform(dict(results, img=results['img'].copy()))


def test_mmpretrain_transforms_build_through_mmmtl():
    """The config's mmpretrain.* transforms resolve to mmpretrain's own
    classes, and the train pipeline after LoadImage gives what those
    classes, built by hand with the config's arguments, give (same seeds;
    the augmentation differs between seeds). The colour jitter is not in the
    pipeline: the transfer configs run it on the batch
    (tests/test_batch_color_jitter.py)."""
    import mmcv.transforms as mmcv_transforms
    import mmpretrain.datasets.transforms as mmpretrain_transforms
    for name in ('RandomResizedCrop', 'ColorJitter', 'ResizeEdge',
                 'Collect'):
        assert TRANSFORMS.get(f'mmpretrain.{name}') is getattr(
            mmpretrain_transforms, name)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    assert cfg.train_pipeline[0] == dict(type='LoadImage')
    pipeline = Compose(cfg.train_pipeline[1:])
    by_hand = Compose([
        mmpretrain_transforms.RandomResizedCrop(scale=84),
        mmcv_transforms.RandomFlip(prob=0.5, direction='horizontal'),
        BGRToRGB(),
        mmpretrain_transforms.Collect(keys=['img', 'gt_label']),
        mmcv_transforms.ImageToTensor(keys=['img'])
    ])
    image = np.random.default_rng(0).integers(
        0, 256, size=(100, 120, 3), dtype=np.uint8)
    outputs = []
    for seed in range(3):
        out = seeded(pipeline, dict(img=image, gt_label=2), seed)
        expected = seeded(by_hand, dict(img=image, gt_label=2), seed)
        assert set(out) == {'img', 'gt_label'} and out['gt_label'] == 2
        assert out['img'].shape == (3, 84, 84)
        assert torch.equal(out['img'], expected['img'])
        outputs.append(out['img'])
    assert not torch.equal(outputs[0], outputs[1])


def test_episodes(imagenet_root):
    """An episode of the val split through the test pipeline: N classes,
    K + Q images each, every image the solid colour of its own class (the
    fixture gives each class its own red value) and each label's images
    from one class."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    episodes = EpisodicDataset(
        dict(type='MiniImageNet', data_root=imagenet_root, split='val',
             pipeline=cfg.test_pipeline),
        num_ways=2, num_shots=1, num_queries=2, num_episodes=2)
    wnids = SPLIT_CLASSES['val']  # class index: order in the CSV
    for item in (episodes[0], episodes[1]):
        assert item['img'].shape == (6, 3, 84, 84)
        labels = item['episode_label'].tolist()
        assert labels == [0, 1, 0, 0, 1, 1]
        classes = item['gt_label'].tolist()
        for image, label, cls in zip(item['img'], labels, classes):
            assert classes[labels.index(label)] == cls
            red = colour(wnids[cls], 1)[0]  # red: the class only
            assert (image[0].float() - red).abs().max() <= 3
            # solid: every pixel of each channel alike (JPEG noise aside)
            assert (image.flatten(1).float().std(1) < 2).all()
        assert len({classes[0], classes[1]}) == 2


def test_missing_files_are_named(imagenet_root, precut_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        MiniImageNet(data_root=str(tmp_path / 'nowhere'))
    os.remove(osp.join(precut_root, 'test.csv'))
    with pytest.raises(FileNotFoundError, match=r'test\.csv not found'):
        MiniImageNet(data_root=precut_root, split='test')
    # pre-cut: an image named in the CSV is absent
    os.remove(osp.join(precut_root, 'images', csv_name('n02000001', 4)))
    with pytest.raises(FileNotFoundError,
                       match=r'n0200000100000004\.jpg \(class n02000001'):
        MiniImageNet(data_root=precut_root, split='val')
    # ImageNet layout: the 5th image by number no longer exists
    os.remove(osp.join(imagenet_root, 'images', 'n01000002',
                       'n01000002_100.JPEG'))
    with pytest.raises(FileNotFoundError,
                       match=r'n0100000200000005\.jpg.*holds only 4'):
        MiniImageNet(data_root=imagenet_root, split='train')
    # ImageNet layout: a class folder is absent
    shutil.rmtree(osp.join(imagenet_root, 'images', 'n03000002'))
    with pytest.raises(FileNotFoundError, match='n03000002'):
        MiniImageNet(data_root=imagenet_root, split='test')
    # neither layout
    shutil.rmtree(osp.join(imagenet_root, 'images', 'n03000001'))
    with pytest.raises(FileNotFoundError, match='neither.*Expected'):
        MiniImageNet(data_root=imagenet_root, split='test')
    shutil.rmtree(osp.join(imagenet_root, 'images'))
    with pytest.raises(FileNotFoundError, match='image folder .*images'):
        MiniImageNet(data_root=imagenet_root, split='val')


def test_malformed_csv(precut_root):
    path = osp.join(precut_root, 'val.csv')
    with open(path, 'w') as f:
        f.write('name,class\nn0200000100000001.jpg,n02000001\n')
    with pytest.raises(ValueError, match='header "filename,label"'):
        MiniImageNet(data_root=precut_root, split='val')
    with open(path, 'w') as f:
        f.write('filename,label\nn0200000100000001.jpg,n02000002\n')
    with pytest.raises(ValueError, match='line 2.*does not belong'):
        MiniImageNet(data_root=precut_root, split='val')
    with open(path, 'w') as f:
        f.write('filename,label\nimage1.jpg,n02000002\n')
    with pytest.raises(ValueError, match=r'line 2.*<wnid><number>\.jpg'):
        MiniImageNet(data_root=precut_root, split='val')
    with pytest.raises(ValueError, match='unknown split'):
        MiniImageNet(data_root=precut_root, split='trainval')


def load_tool(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_from_imagenet_folder_and_precut(tmp_path):
    imagenet = tmp_path / 'ILSVRC' / 'train'
    source = write_imagenet_layout(str(tmp_path / 'src'))
    shutil.move(osp.join(source, 'images'), str(imagenet))
    prepare = load_tool('tools/data/prepare_mini_imagenet.py',
                        'prepare_mini_imagenet')
    out = str(tmp_path / 'linked')
    prepare.main(['--csv-dir', source, '--imagenet', str(imagenet),
                  '--out', out])
    assert osp.islink(osp.join(out, 'images', 'n01000001'))
    check_splits(out, 'imagenet')
    precut = str(tmp_path / 'precut')
    prepare.main(['--csv-dir', source, '--imagenet', str(imagenet),
                  '--out', precut, '--precut', '--size', '16'])
    check_splits(precut, 'precut')
    with Image.open(osp.join(precut, 'images', csv_name('n01000001',
                                                        5))) as im:
        assert im.size == (16, 16)
        assert np.allclose(
            np.asarray(im).reshape(-1, 3).mean(0), colour('n01000001', 5),
            atol=4)
    # the pre-cut release as a zip holding a top folder
    archive = str(tmp_path / 'mini-imagenet.zip')
    with zipfile.ZipFile(archive, 'w') as zf:
        for path in glob.glob(osp.join(precut, '**', '*'), recursive=True):
            if osp.isfile(path):
                zf.write(path, 'mini-imagenet/' + osp.relpath(path, precut))
    from_zip = str(tmp_path / 'from_zip')
    prepare.main(['--archive', archive, '--out', from_zip])
    check_splits(from_zip, 'precut')
    with pytest.raises(FileNotFoundError, match='class folders'):
        shutil.rmtree(str(imagenet / 'n03000002'))
        prepare.main(['--csv-dir', source, '--imagenet', str(imagenet),
                      '--out', str(tmp_path / 'broken')])


def tree(root: str) -> dict:
    """{relative path: bytes} of the files under ``root`` (links
    followed), and the set of paths that are symlinks."""
    found, links = {}, set()
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        for name in dirs + files:
            path = osp.join(dirpath, name)
            if osp.islink(path):
                links.add(osp.relpath(path, root))
        for name in files:
            with open(osp.join(dirpath, name), 'rb') as f:
                found[osp.relpath(osp.join(dirpath, name), root)] = f.read()
    return found, links


def test_prepare_modes_copy_images_tars(tmp_path):
    """The other prepare modes, each against the source bytes: ImageNet
    class folders copied (--mode copy) or unpacked from the tar of class
    tars (also with --precut), pre-cut images from a folder (linked or
    copied), and the pre-cut release as a tar holding the CSVs."""
    prepare = load_tool('tools/data/prepare_mini_imagenet.py',
                        'prepare_mini_imagenet')
    source = write_imagenet_layout(str(tmp_path / 'src'))
    imagenet = osp.join(source, 'images')
    class_files, _ = tree(imagenet)
    # only the class images (the readme.txt of each folder stays behind
    # when unpacking the tar, where it is not in the class tar)
    class_images = {k: v for k, v in class_files.items()
                    if k.endswith('.JPEG')}
    copied = str(tmp_path / 'copied')
    prepare.main(['--csv-dir', source, '--imagenet', imagenet, '--out',
                  copied, '--mode', 'copy'])
    files, links = tree(osp.join(copied, 'images'))
    assert files == class_files and not links
    check_splits(copied, 'imagenet')
    # ILSVRC2012_img_train.tar: one <wnid>.tar per class, plus a class
    # that is not miniImageNet's
    archive = str(tmp_path / 'ILSVRC2012_img_train.tar')
    with tarfile.open(archive, 'w') as outer:
        for wnid in sorted(os.listdir(imagenet)) + ['n09999999']:
            inner = str(tmp_path / f'{wnid}.tar')
            with tarfile.open(inner, 'w') as tar:
                folder = osp.join(imagenet, wnid)
                for name in (sorted(os.listdir(folder))
                             if osp.isdir(folder) else []):
                    if name.endswith('.JPEG'):
                        tar.add(osp.join(folder, name), name)
            outer.add(inner, f'{wnid}.tar')
    unpacked = str(tmp_path / 'unpacked')
    prepare.main(['--csv-dir', source, '--imagenet', archive, '--out',
                  unpacked])
    files, links = tree(osp.join(unpacked, 'images'))
    assert files == class_images and not links
    check_splits(unpacked, 'imagenet')
    precut_from_tar = str(tmp_path / 'precut_from_tar')
    prepare.main(['--csv-dir', source, '--imagenet', archive, '--out',
                  precut_from_tar, '--precut', '--size', '16'])
    check_splits(precut_from_tar, 'precut')
    assert sorted(os.listdir(precut_from_tar)) == [
        'images', 'test.csv', 'train.csv', 'val.csv'
    ]  # the unpacked class folders are gone
    with Image.open(osp.join(precut_from_tar, 'images',
                             csv_name('n03000002', 4))) as im:
        assert im.size == (16, 16)
        assert np.allclose(
            np.asarray(im).reshape(-1, 3).mean(0), colour('n03000002', 4),
            atol=4)
    # pre-cut images from a folder, linked then copied
    precut = write_precut_layout(str(tmp_path / 'precut_src'))
    precut_images, _ = tree(osp.join(precut, 'images'))
    for mode in ('symlink', 'copy'):
        out = str(tmp_path / f'images_{mode}')
        prepare.main(['--csv-dir', precut, '--images',
                      osp.join(precut, 'images'), '--out', out, '--mode',
                      mode])
        files, links = tree(osp.join(out, 'images'))
        assert files == precut_images
        assert links == (set(files) if mode == 'symlink' else set())
        check_splits(out, 'precut')
    # the pre-cut release as a .tar.gz with the CSVs inside
    release = str(tmp_path / 'mini-imagenet.tar.gz')
    with tarfile.open(release, 'w:gz') as tar:
        tar.add(precut, 'mini-imagenet')
    from_tar = str(tmp_path / 'from_tar')
    prepare.main(['--archive', release, '--out', from_tar])
    files, _ = tree(from_tar)
    assert files == tree(precut)[0]
    check_splits(from_tar, 'precut')
    with pytest.raises(FileNotFoundError, match='n03000002'):
        os.remove(osp.join(precut, 'images', csv_name('n03000002', 5)))
        prepare.main(['--csv-dir', precut, '--images',
                      osp.join(precut, 'images'), '--out',
                      str(tmp_path / 'broken')])


def run_tools(config: str, root: str, work_dir: str) -> tuple:
    """3 training iterations, meta-validation and a meta-test of 2 tiny
    episodes on the fixture; returns the result JSON, the checkpoint and
    the options."""
    train = train_api
    test = test_api
    options = [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.dataset.data_root={root}',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'val_dataloader.dataset.num_ways=2',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=2', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'model.adapter.num_steps=5',
        'default_hooks.logger.interval=1'
    ]
    config = osp.join(REPO, config)
    train.main([config, '--work-dir', work_dir, '--cfg-options', *options])
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(checkpoint)
    test.main([
        config, checkpoint, '--work-dir', work_dir, '--ways', '2',
        '--shots', '1', '--queries', '2', '--episodes', '2',
        '--cfg-options', *options
    ])
    results = glob.glob(
        osp.join(work_dir, '**', 'meta_test_*.json'), recursive=True)
    assert len(results) == 1
    with open(results[0]) as f:
        return json.load(f), checkpoint, options


def test_train_and_meta_test_tools(precut_root, tmp_path):
    config = 'configs/transfer/baseline_conv4_1xb128_mini-imagenet_5way-1shot.py'
    out, checkpoint, options = run_tools(config, precut_root,
                                         str(tmp_path / 'work'))
    (row, ) = out['results']
    assert row['num_ways'] == 2 and row['num_episodes'] == 2
    assert_row_is_the_hand_run(
        row,
        hand_meta_test(
            osp.join(REPO, config), checkpoint, options, ways=2, shots=1,
            queries=2, episodes=2))


# --- pre-cut images as they are, the 36 unseen classes, large episodes ---

def noise_jpeg(path: str, seed: int, size=(84, 84)) -> None:
    """A JPEG of random pixels (every pixel matters: a resize, crop or
    flip changes them)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def write_precut(root: str, classes: dict, per_class: int, size=(84, 84),
                 seed: int = 0) -> str:
    """Pre-cut layout with ``classes[split]`` wnids of ``per_class`` noise
    images each."""
    os.makedirs(osp.join(root, 'images'))
    for split, wnids in classes.items():
        with open(osp.join(root, f'{split}.csv'), 'w') as f:
            f.write('filename,label\n')
            for c, wnid in enumerate(wnids):
                for k in range(1, per_class + 1):
                    name = csv_name(wnid, k)
                    f.write(f'{name},{wnid}\n')
                    noise_jpeg(osp.join(root, 'images', name),
                               seed + 1000 * c + k, size)
    return root


def file_rgb(path: str) -> np.ndarray:
    """The image as decoded by PIL (independent of mmcv / cv2), RGB."""
    with Image.open(path) as im:
        return np.array(im.convert('RGB'))


@pytest.mark.parametrize('cache_images', [False, True])
def test_precut_image_reaches_model_pixel_identical(tmp_path, cache_images):
    """The config's test pipeline, EpisodicDataset, episode_collate and the
    model's data preprocessor: a pre-cut 84x84 image arrives as its file's
    RGB pixels, exactly (no resize-96 / crop-84 zoom)."""
    classes = dict(test=['n03000001', 'n03000002', 'n03000003'])
    root = write_precut(str(tmp_path / 'mini'), classes, per_class=3)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    episodes = EpisodicDataset(
        dict(type='MiniImageNet', data_root=root, split='test',
             pipeline=cfg.test_pipeline, cache_images=cache_images),
        num_ways=3, num_shots=1, num_queries=2, num_episodes=2)
    batch = episode_collate([episodes[0], episodes[1]])
    assert batch['img'].shape == (2, 9, 3, 84, 84)
    assert batch['img'].dtype == torch.uint8
    ds = episodes.dataset
    files = [[ds.get_data_info(int(i))['img_path'] for i in item]
             for item in batch['indices']]
    expected = torch.stack([
        torch.stack([torch.from_numpy(file_rgb(p)).permute(2, 0, 1)
                     for p in paths]) for paths in files])
    assert torch.equal(batch['img'], expected)
    # ... and the model normalises exactly those pixels
    model_cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/maml_conv4_rgb84.py'))
    preprocessor = MODELS.build(model_cfg.model.data_preprocessor)
    inputs = preprocessor(batch)['inputs']
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    torch.testing.assert_close(inputs, (expected.float() - mean) / std)


def test_resize_center_crop_keeps_imagenet_crop():
    """Full-size images: the same pixels as the former ResizeEdge(96) +
    CenterCrop(84); an 84x84 image passes untouched, where the former
    pipeline would have changed it."""
    new = TRANSFORMS.build(
        dict(type='ResizeCenterCrop', crop_size=84, resize_short=96))
    old = Compose([
        dict(type='mmpretrain.ResizeEdge', scale=96, edge='short'),
        dict(type='CenterCrop', crop_size=84)
    ])
    rng = np.random.default_rng(0)
    for shape in [(375, 500, 3), (500, 333, 3), (90, 90, 3), (84, 85, 3)]:
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
        a = new(dict(img=img.copy()))
        b = old(dict(img=img.copy()))
        assert a['img'].shape == (84, 84, 3)
        np.testing.assert_array_equal(a['img'], b['img'])
    precut = rng.integers(0, 256, size=(84, 84, 3), dtype=np.uint8)
    np.testing.assert_array_equal(new(dict(img=precut.copy()))['img'],
                                  precut)
    assert not np.array_equal(old(dict(img=precut.copy()))['img'], precut)
    with pytest.raises(ValueError, match='crop_size <= resize_short'):
        TRANSFORMS.build(
            dict(type='ResizeCenterCrop', crop_size=96, resize_short=84))


UNSEEN = dict(
    train=[f'n01{c:06d}' for c in range(3)],
    val=[f'n02{c:06d}' for c in range(16)],
    test=[f'n03{c:06d}' for c in range(20)])


@pytest.fixture(scope='module')
def unseen_root(tmp_path_factory):
    """16 val + 20 test classes of 116 tiny images (100 shots + 15 queries
    fit), 3 train classes of 20."""
    root = str(tmp_path_factory.mktemp('unseen') / 'mini')
    write_precut(root, dict(val=UNSEEN['val'], test=UNSEEN['test']),
                 per_class=116, size=(4, 4))
    with open(osp.join(root, 'train.csv'), 'w') as f:
        f.write('filename,label\n')
        for wnid in UNSEEN['train']:
            for k in range(1, 21):
                f.write(f'{csv_name(wnid, k)},{wnid}\n')
                noise_jpeg(osp.join(root, 'images', csv_name(wnid, k)), k,
                           (4, 4))
    return root


def check_val_plus_test(root: str, val_classes: int, test_classes: int):
    """The 'val+test' split is val's classes and images, then test's."""
    val = MiniImageNet(data_root=root, split='val')
    test = MiniImageNet(data_root=root, split='test')
    unseen = MiniImageNet(data_root=root, split='val+test')
    assert unseen.num_classes == val_classes + test_classes
    assert unseen.classes == val.classes + test.classes
    assert not set(val.classes) & set(test.classes)
    assert len(unseen) == len(val) + len(test)
    paths = [unseen.get_data_info(i)['img_path'] for i in range(len(unseen))]
    assert paths == ([val.get_data_info(i)['img_path']
                      for i in range(len(val))] +
                     [test.get_data_info(i)['img_path']
                      for i in range(len(test))])
    np.testing.assert_array_equal(
        unseen.get_gt_labels(),
        np.concatenate([val.get_gt_labels(),
                        test.get_gt_labels() + val_classes]))
    return unseen


def test_unseen_split_is_val_plus_test(unseen_root, tmp_path):
    unseen = check_val_plus_test(unseen_root, 16, 20)
    assert unseen.classes == tuple(UNSEEN['val'] + UNSEEN['test'])
    # the standard evaluation split stays 'test'
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    assert cfg.test_dataloader.dataset.dataset.split == 'test'
    # a class in both files would merge two classes: refused
    root = str(tmp_path / 'shared_class')
    write_precut(root, dict(val=['n02000001', 'n02000002'],
                            test=['n02000002', 'n03000001']), per_class=2,
                 size=(4, 4))
    with pytest.raises(ValueError,
                       match=r'n02000002 of .*test\.csv \(line 2\) is also '
                             r'a class of .*val\.csv'):
        MiniImageNet(data_root=root, split='val+test')


def check_episode(episodes, index: int, ways: int, shots: int,
                  queries: int) -> None:
    ep = episodes.episode(index)
    labels = episodes.dataset.get_gt_labels()
    assert len(set(ep.classes.tolist())) == ways
    assert len(ep.support) == ways * shots
    assert len(ep.query) == ways * queries
    assert not set(ep.support.tolist()) & set(ep.query.tolist())
    assert len(set(ep.support.tolist())) == ways * shots
    assert len(set(ep.query.tolist())) == ways * queries
    # class-major, each image of its class
    np.testing.assert_array_equal(labels[ep.support],
                                  np.repeat(ep.classes, shots))
    np.testing.assert_array_equal(labels[ep.query],
                                  np.repeat(ep.classes, queries))


def test_many_way_and_many_shot_episodes(unseen_root):
    """35-way on the 36 unseen classes and 100-shot + 15 queries: distinct
    classes, disjoint support and query sets; items and collate."""
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='ImageToTensor', keys=['img'])]
    unseen = MiniImageNet(data_root=unseen_root, split='val+test',
                          pipeline=pipeline)
    for ways, shots in [(35, 1), (35, 5), (5, 100), (20, 100), (35, 100)]:
        episodes = EpisodicDataset(unseen, ways, shots, 15, num_episodes=4,
                                   seed=3)
        for index in range(4):
            check_episode(episodes, index, ways, shots, 15)
    episodes = EpisodicDataset(unseen, 5, 100, 15, num_episodes=2)
    batch = episode_collate([episodes[0], episodes[1]])
    assert batch['img'].shape == (2, 575, 3, 4, 4)
    assert batch['episode_label'][0].tolist() == (
        np.repeat(np.arange(5), 100).tolist() +
        np.repeat(np.arange(5), 15).tolist())
    episodes = EpisodicDataset(unseen, 35, 1, 15, num_episodes=1)
    item, ep = episodes[0], episodes.episode(0)
    assert item['img'].shape == (35 * 16, 3, 4, 4)
    np.testing.assert_array_equal(item['indices'],
                                  np.concatenate([ep.support, ep.query]))
    np.testing.assert_array_equal(item['gt_label'],
                                  unseen.get_gt_labels()[item['indices']])


def test_too_small_splits_are_named(unseen_root):
    test = MiniImageNet(data_root=unseen_root, split='test')
    with pytest.raises(ValueError,
                       match=r"35-way episodes need at least 35 classes; "
                             r"MiniImageNet split 'test' .* has 20 classes"):
        EpisodicDataset(test, 35, 1, 15, num_episodes=1)
    train = MiniImageNet(data_root=unseen_root, split='train')
    with pytest.raises(ValueError,
                       match=r"split='train'.*3 classes have fewer than 115 "
                             r"images \(episodes need 100 shots \+ 15"):
        EpisodicDataset(train, 3, 100, 15, num_episodes=1)


def test_bgr_to_rgb_reverses_channels():
    rng = np.random.default_rng(0)
    full = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    for img in (full, full[3:20, 5:33],  # a crop: a non-contiguous view
                full.astype(np.float32) / 7, full.astype(np.float64) / 7):
        out = BGRToRGB()(dict(img=img.copy() if img.base is None else img))
        np.testing.assert_array_equal(out['img'], img[..., [2, 1, 0]])
        assert out['img'].flags.c_contiguous
    grey = full[..., 0]
    assert BGRToRGB()(dict(img=grey))['img'] is grey
    with pytest.raises(ValueError, match='expected HxWx3'):
        BGRToRGB()(dict(img=np.zeros((4, 4, 2), np.uint8)))
