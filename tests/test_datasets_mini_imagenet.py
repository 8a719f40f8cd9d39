"""miniImageNet in both layouts on tiny generated fixtures: class counts,
label mapping, CSV-name -> file resolution, clear layout errors, the 84x84
pipelines, the prepare script and a tiny train + meta-test run."""
import glob
import importlib.util
import json
import os
import os.path as osp
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
from mmmtl.datasets import EpisodicDataset, MiniImageNet

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
    """A distinct RGB colour per (class, k) with R, G, B all different."""
    c = int(wnid[1:]) % 97
    return (40 + 2 * c, 200 - 30 * k, 90 + 3 * k)


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


def test_mmpretrain_transforms_build_through_mmmtl():
    from mmmtl.registry import TRANSFORMS
    for name in ('RandomResizedCrop', 'ColorJitter', 'ResizeEdge',
                 'Collect'):
        assert TRANSFORMS.get(f'mmpretrain.{name}') is not None
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    Compose(cfg.train_pipeline)


def test_episodes(imagenet_root):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py'))
    episodes = EpisodicDataset(
        dict(type='MiniImageNet', data_root=imagenet_root, split='val',
             pipeline=cfg.test_pipeline),
        num_ways=2, num_shots=1, num_queries=2, num_episodes=2)
    item = episodes[0]
    assert item['img'].shape == (6, 3, 84, 84)


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
    train = load_tool('tools/train.py', 'mmmtl_tools_train')
    test = load_tool('tools/test.py', 'mmmtl_tools_test')
    options = [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.dataset.data_root={root}',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'val_dataloader.dataset.num_ways=2',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=2', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'model.finetune_cfg.num_steps=5',
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
