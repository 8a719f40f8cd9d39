"""CUB-200-2011 on a tiny generated fixture: the Chen et al. class split,
labels, layout errors, the pipelines, the prepare script and a tiny train +
meta-test run."""
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import tarfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import assert_row_is_the_hand_run, hand_meta_test
from mmmtl.apis import test as test_api
from mmmtl.apis import train as train_api
from mmmtl.datasets import CUB
from mmmtl.datasets.cub import cub_split_of

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# 12 class folders, created out of order; sorted index i -> split by i % 4
FOLDERS = [f'{i:03d}.Bird_{chr(64 + i)}' for i in (7, 3, 12, 1, 9, 5, 11,
                                                    2, 10, 4, 8, 6)]
SORTED = sorted(FOLDERS)
EXPECTED = dict(
    train=[SORTED[i] for i in (0, 2, 4, 6, 8, 10)],
    val=[SORTED[i] for i in (1, 5, 9)],
    test=[SORTED[i] for i in (3, 7, 11)])
PER_CLASS = 3


def write_cub(root: str) -> str:
    """images/<NNN.Name>/<Name>_<k>.jpg, one solid colour per class."""
    for folder in FOLDERS:
        class_dir = osp.join(root, 'images', folder)
        os.makedirs(class_dir)
        c = int(folder[:3])
        for k in range(PER_CLASS):
            Image.new('RGB', (12, 10), (20 * c, 250 - 20 * c, 60)).save(
                osp.join(class_dir, f'{folder[4:]}_{k:04d}.jpg'), quality=95)
    return root


@pytest.fixture
def cub_root(tmp_path):
    return write_cub(str(tmp_path / 'CUB_200_2011'))


def test_split_rule():
    assert [cub_split_of(i) for i in range(8)] == [
        'train', 'val', 'train', 'test', 'train', 'val', 'train', 'test'
    ]
    splits = [cub_split_of(i) for i in range(200)]
    assert (splits.count('train'), splits.count('val'),
            splits.count('test')) == (100, 50, 50)


def test_classes_per_split(cub_root):
    seen = []
    for split, names in EXPECTED.items():
        ds = CUB(data_root=cub_root, split=split)
        assert ds.classes == tuple(names)
        assert len(ds) == len(names) * PER_CLASS
        seen += names
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            folder = osp.basename(osp.dirname(info['img_path']))
            assert ds.classes[info['gt_label']] == folder
        assert [osp.basename(ds.get_data_info(i)['img_path'])
                for i in range(PER_CLASS)] == [
                    f'{names[0][4:]}_{k:04d}.jpg' for k in range(PER_CLASS)
                ]
    assert sorted(seen) == SORTED


def test_pipelines(cub_root):
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/cub.py'))
    test = CUB(data_root=cub_root, split='test', pipeline=cfg.test_pipeline)
    item = test[4]
    assert set(item) == {'img', 'gt_label'}
    assert item['img'].shape == (3, 84, 84)
    assert item['img'].dtype == torch.uint8
    c = int(EXPECTED['test'][item['gt_label']][:3])
    np.testing.assert_allclose(
        item['img'].float().mean(dim=(1, 2)).numpy(),
        (20 * c, 250 - 20 * c, 60),
        atol=4)  # RGB order after BGRToRGB
    train = CUB(data_root=cub_root, split='train',
                pipeline=cfg.train_pipeline)
    assert train[0]['img'].shape == (3, 84, 84)


def test_layout_errors(cub_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='images not found.*Expected'):
        CUB(data_root=str(tmp_path / 'missing'))
    empty_class = osp.join(cub_root, 'images', EXPECTED['val'][1])
    for name in os.listdir(empty_class):
        os.remove(osp.join(empty_class, name))
    with pytest.raises(ValueError, match=f'{EXPECTED["val"][1]} holds no'):
        CUB(data_root=cub_root, split='val')
    flat = tmp_path / 'flat'
    os.makedirs(flat / 'images')
    (flat / 'images' / 'a.jpg').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='no class folders'):
        CUB(data_root=str(flat))
    with pytest.raises(ValueError, match='unknown split'):
        CUB(data_root=cub_root, split='trainval')


def load_tool(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_from_archive(cub_root, tmp_path):
    archive = str(tmp_path / 'CUB_200_2011.tgz')
    with open(osp.join(cub_root, 'classes.txt'), 'w') as f:
        f.write('1 001.Bird_A\n')
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(cub_root, arcname='CUB_200_2011')
    prepare = load_tool('tools/data/prepare_cub.py', 'prepare_cub')
    out = str(tmp_path / 'out')
    prepare.main(['--archive', archive, '--out', out])
    assert sorted(os.listdir(osp.join(out, 'images'))) == SORTED
    assert CUB(data_root=out, split='val').classes == tuple(EXPECTED['val'])
    linked = str(tmp_path / 'linked')
    prepare.main(['--src', cub_root, '--out', linked])
    assert osp.islink(osp.join(linked, 'images'))
    shutil.rmtree(osp.join(cub_root, 'images'))
    with pytest.raises(FileNotFoundError, match='images not found'):
        prepare.main(['--src', cub_root, '--out', str(tmp_path / 'bad')])


def test_train_and_meta_test_tools(cub_root, tmp_path):
    train = train_api
    test = test_api
    config = osp.join(
        REPO, 'configs/transfer/baseline_conv4_1xb128_cub_5way-1shot.py')
    work_dir = str(tmp_path / 'work')
    options = [
        f'train_dataloader.dataset.data_root={cub_root}',
        f'val_dataloader.dataset.dataset.data_root={cub_root}',
        f'test_dataloader.dataset.dataset.data_root={cub_root}',
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


@pytest.mark.parametrize('config, model_options', [
    ('configs/mtl/mtl-maml_conv4_1xb4_cub_5way-1shot.py', [
        'model.meta_branch.head.in_channels=100',
        'model.meta_branch.num_ways=2',
        'model.meta_branch.adapter.num_steps=1',
        'model.meta_branch.adapter.test_cfg.num_steps=1',
        'model.transfer_branch.head.in_channels=100'
    ]),
    ('configs/protonet/protonet_conv4_1xb1_cub_5way-1shot.py', []),
])
def test_meta_configs_train_and_meta_test_on_cub(cub_root, tmp_path, config,
                                                 model_options):
    """Episodic training on the 84x84 RGB layout (a two-block-wide Conv4 of
    4 filters: 4 x 5 x 5 = 100 features), then meta-testing."""
    train = train_api
    test = test_api
    work_dir = str(tmp_path / 'work')
    options = [
        f'train_dataloader.dataset.dataset.data_root={cub_root}',
        f'val_dataloader.dataset.dataset.data_root={cub_root}',
        f'test_dataloader.dataset.dataset.data_root={cub_root}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'train_dataloader.dataset.num_ways=2',
        'train_dataloader.dataset.num_queries=1',
        'val_dataloader.dataset.num_ways=2',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=2', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'model.backbone.channels=[4,4,4,4]',
        *model_options
    ]
    train.main([config, '--work-dir', work_dir, '--cfg-options', *options])
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    (row, ) = test.main([
        config, checkpoint, '--work-dir', work_dir, '--ways', '2',
        '--queries', '2', '--episodes', '2', '--cfg-options', *options
    ])
    assert row['num_ways'] == 2 and row['num_episodes'] == 2
    assert_row_is_the_hand_run(
        row,
        hand_meta_test(config, checkpoint, options, ways=2, queries=2,
                       episodes=2))
