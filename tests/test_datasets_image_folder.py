"""FewShotImageFolder on generated folders in the ImageFolder layout (a
user's classes, Flowers-102's NNN.species_name/image_XXXXX.jpg with
classes.txt, CUB's images/ with species missing): class lists, splits,
ignored entries, errors; the cross-domain meta-test command of
docs/cross_domain.md on a fixture, checked against a meta-test by hand."""
import glob
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import (REPO, assert_row_is_the_hand_run, hand_meta_test,
                      parse_cfg_options)
from mmmtl.apis import test as test_api
from mmmtl.datasets import CUB, FewShotImageFolder
from mmmtl.datasets import image_folder as image_folder_module
from mmmtl.registry import DATASETS, MODELS

# class -> number of images; written out of order
CLASSES = {'wren': 3, 'avocet': 2, 'heron': 4, 'crane': 2, 'egret': 3}
# entries to ignore: (relative path, is a folder)
JUNK = [('.DS_Store', False), ('notes.txt', False),
        ('wren/.hidden.jpg', False), ('wren/._0.jpg', False),
        ('heron/readme.md', False), ('heron/.ipynb_checkpoints', True),
        ('crane/sub', True), ('egret/data.csv', False)]


def colour(name: str, k: int) -> tuple:
    c = sum(map(ord, name)) % 200
    return (c, 250 - c, 10 * k)


def write_folder(root: str,
                 classes=CLASSES,
                 junk=JUNK,
                 size=(12, 10),
                 name='{k}.jpg') -> str:
    for cls, count in classes.items():
        os.makedirs(osp.join(root, cls), exist_ok=True)
        for k in range(count):
            Image.new('RGB', size, colour(cls, k)).save(
                osp.join(root, cls, name.format(k=k)), quality=95)
    for path, is_dir in junk:
        if is_dir:
            os.makedirs(osp.join(root, path))
        else:
            with open(osp.join(root, path), 'w') as f:
                f.write('x')
    return root


def images_of(ds) -> dict:
    """class name -> sorted file names of the dataset's items."""
    got = {}
    for info, label in zip(ds.data_list, ds.get_gt_labels()):
        got.setdefault(ds.classes[label],
                       []).append(osp.basename(info['img_path']))
    return got


@pytest.fixture
def folder(tmp_path):
    return write_folder(str(tmp_path / 'birds'))


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(image_folder_module, 'print_log',
                        lambda msg, **kwargs: lines.append(msg))
    return lines


def test_all_classes_images_and_ignored_entries(folder, logged):
    ds = FewShotImageFolder(folder)
    assert ds.classes == tuple(sorted(CLASSES))
    assert images_of(ds) == {
        c: [f'{k}.jpg' for k in range(n)]
        for c, n in CLASSES.items()
    }
    labels = ds.get_gt_labels()
    assert list(labels) == sorted(labels)  # class by class, in class order
    assert ds.ignored_entries == len(JUNK)
    (line, ) = logged
    assert f'ignored {len(JUNK)} entries' in line
    assert f'read {sum(CLASSES.values())} images of 5 classes' in line


def test_a_clean_folder_logs_nothing(tmp_path, logged):
    root = write_folder(str(tmp_path / 'clean'), junk=[])
    assert FewShotImageFolder(root).ignored_entries == 0
    assert logged == []


def test_image_extensions_any_case(tmp_path):
    root = write_folder(str(tmp_path / 'ext'), {'a': 1, 'b': 1}, junk=[])
    for name in ('X.PNG', 'y.JpEg', 'z.webp', 'w.bmp'):
        Image.new('RGB', (4, 4)).save(osp.join(root, 'a', name))
    assert images_of(FewShotImageFolder(root))['a'] == sorted(
        ['0.jpg', 'X.PNG', 'y.JpEg', 'z.webp', 'w.bmp'])


def test_classes_from_a_list_file_or_a_list(folder):
    # BOM, blank lines and spaces ignored; the file's order is the labels'
    with open(osp.join(folder, 'mine.txt'), 'w', encoding='utf-8-sig') as f:
        f.write('heron\n\n  wren \ncrane\n')
    for classes in ('mine.txt', osp.join(folder, 'mine.txt'),
                    ['heron', 'wren', 'crane']):
        ds = FewShotImageFolder(folder, classes=classes)
        assert ds.classes == ('heron', 'wren', 'crane')
        got = images_of(ds)
        assert {
            c: len(v)
            for c, v in got.items()
        } == {
            'heron': 4,
            'wren': 3,
            'crane': 2
        }


def test_splits_by_listed_classes(folder):
    with open(osp.join(folder, 'val.txt'), 'w') as f:
        f.write('egret\n')
    splits = dict(
        train=['wren', 'avocet'], val='val.txt', test=['heron', 'crane'])
    expected = dict(
        train=('wren', 'avocet'), val=('egret', ), test=('heron', 'crane'))
    for split, classes in expected.items():
        ds = FewShotImageFolder(folder, split=split, splits=splits)
        assert ds.classes == classes
        assert len(ds) == sum(CLASSES[c] for c in classes)
        assert sorted(set(ds.get_gt_labels())) == list(range(len(classes)))
    # 'all' is every class whatever the splits
    every = FewShotImageFolder(folder, split='all', splits=splits)
    assert every.classes == tuple(sorted(CLASSES))
    # splits within a class list: only listed classes may be used
    ds = FewShotImageFolder(
        folder,
        split='a',
        classes=['crane', 'egret'],
        splits=dict(a=['egret'], b=['crane']))
    assert ds.classes == ('egret', )


def write_text(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


@pytest.mark.parametrize('case', [
    'missing_root', 'no_class_folders', 'empty_class', 'unknown_in_file',
    'unknown_in_list', 'unknown_in_split', 'not_in_classes',
    'duplicate_in_file', 'duplicate_in_list', 'two_splits', 'unknown_split',
    'reserved_all', 'missing_list_file', 'empty_list'
])
def test_errors_name_what_is_wrong(folder, tmp_path, case):
    kwargs = dict(data_root=folder)
    if case == 'missing_root':
        kwargs['data_root'] = str(tmp_path / 'nowhere')
        error, match = FileNotFoundError, r'data_root .*nowhere does not'
    elif case == 'no_class_folders':
        empty = tmp_path / 'flat'
        empty.mkdir()
        write_text(str(empty / 'a.jpg'), 'x')
        kwargs['data_root'] = str(empty)
        error, match = FileNotFoundError, r'flat holds no class folders'
    elif case == 'empty_class':
        os.makedirs(osp.join(folder, 'kiwi'))
        write_text(osp.join(folder, 'kiwi', 'readme.txt'), 'x')
        error, match = ValueError, r'class folder .*kiwi holds no images'
    elif case == 'unknown_in_file':
        write_text(osp.join(folder, 'c.txt'), 'wren\nrobin\n')
        kwargs['classes'] = 'c.txt'
        error, match = ValueError, r"c\.txt lists class 'robin', but .*robin"
    elif case == 'unknown_in_list':
        kwargs['classes'] = ['wren', 'robin']
        error, match = ValueError, r"classes lists class 'robin'"
    elif case == 'unknown_in_split':
        kwargs.update(split='b', splits=dict(a=['wren'], b=['robin']))
        error, match = (ValueError, r"splits\['b'\] lists class 'robin', "
                        r'which is not a class folder of .*birds')
    elif case == 'not_in_classes':
        kwargs.update(split='a', classes=['wren'], splits=dict(a=['heron']))
        error, match = (ValueError, r"splits\['a'\] lists class 'heron', "
                        r'which is not in classes')
    elif case == 'duplicate_in_file':
        write_text(osp.join(folder, 'c.txt'), 'wren\nheron\n\nwren\n')
        kwargs['classes'] = 'c.txt'
        error, match = (ValueError, r"c\.txt line 4: class 'wren' is listed "
                        r'twice \(first at .*c\.txt line 1\)')
    elif case == 'duplicate_in_list':
        kwargs.update(split='a', splits=dict(a=['wren', 'heron', 'wren']))
        error, match = (ValueError, r"splits\['a'\]\[2\]: class 'wren' is "
                        r"listed twice \(first at splits\['a'\]\[0\]\)")
    elif case == 'two_splits':
        kwargs.update(
            split='a', splits=dict(a=['wren', 'crane'], b=['heron', 'crane']))
        error, match = (ValueError, r"class 'crane' is in split 'a' and in "
                        r"split 'b'")
    elif case == 'unknown_split':
        kwargs.update(split='test', splits=dict(train=['wren']))
        error, match = (ValueError, r"unknown split 'test'; choose from "
                        r"\('all', 'train'\)")
    elif case == 'reserved_all':
        kwargs.update(splits=dict(all=['wren']))
        error, match = ValueError, r"splits key 'all' is reserved"
    elif case == 'missing_list_file':
        kwargs['classes'] = 'nope.txt'
        error, match = FileNotFoundError, r'classes file .*nope\.txt not found'
    else:
        write_text(osp.join(folder, 'c.txt'), '\n\n')
        kwargs['classes'] = 'c.txt'
        error, match = ValueError, r'classes lists no classes'
    with pytest.raises(error, match=match):
        FewShotImageFolder(**kwargs)


# Flowers-102 as built by ../shared/data/flowers102/build.sh
FLOWERS = [
    '001.pink_primrose', '002.hard_leaved_pocket_orchid',
    '003.canterbury_bells', '004.sweet_pea', '005.english_marigold',
    '006.tiger_lily'
]


def write_flowers(root: str, per_class: int = 4) -> str:
    """NNN.species_name/image_XXXXX.jpg of varied sizes, classes.txt."""
    number = 1
    for c, name in enumerate(FLOWERS):
        os.makedirs(osp.join(root, name))
        for k in range(per_class):
            size = (40 + 7 * k, 30 + 5 * c)
            pixels = np.random.default_rng(number).integers(
                0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(
                osp.join(root, name, f'image_{number:05d}.jpg'), quality=95)
            number += 1
    write_text(osp.join(root, 'classes.txt'), '\n'.join(FLOWERS) + '\n')
    return root


def test_flowers_layout_through_the_32px_config(tmp_path):
    """The test loader of configs/_base_/datasets/flowers102_32px.py: all
    classes, images resized to 32x32 ('area', aspect ratio not kept) and
    cached, pixels as OpenCV gives them."""
    root = write_flowers(str(tmp_path / 'flowers102'))
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/flowers102_32px.py'))
    episodes_cfg = cfg.test_dataloader.dataset
    episodes_cfg.dataset.data_root = root
    episodes_cfg.update(num_ways=3, num_shots=1, num_queries=2, num_episodes=2)
    episodes = DATASETS.build(episodes_cfg)
    images = episodes.dataset
    assert images.classes == tuple(FLOWERS)
    assert len(images) == 6 * 4
    # classes from classes.txt: the root is not scanned
    assert images.ignored_entries == 0
    assert images.cached_bytes == 24 * 32 * 32 * 3
    item = episodes[0]
    assert item['img'].shape == (3 * 3, 3, 32, 32)
    for index in (0, 5, 23):
        path = images.data_list[index]['img_path']
        expected = cv2.cvtColor(
            cv2.resize(
                cv2.imread(path), (32, 32), interpolation=cv2.INTER_AREA),
            cv2.COLOR_BGR2RGB)
        got = images[index]['img'].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, expected)


def test_flowers_layout_through_the_84px_config(tmp_path):
    """configs/_base_/datasets/flowers102.py: the 84x84 test pipeline of
    the miniImageNet configs (short edge 96, centre crop 84) on Flowers,
    decoded once into memory as the miniImageNet splits (84x84 crops:
    173 MB for the 8,189 photos)."""
    root = write_flowers(str(tmp_path / 'flowers102'))
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/flowers102.py'))
    assert cfg.train_dataloader.dataset.type == 'MiniImageNet'
    images_cfg = cfg.test_dataloader.dataset.dataset
    images_cfg.data_root = root
    images = DATASETS.build(images_cfg)
    assert images.classes == tuple(FLOWERS)
    assert images.cache_images
    assert [type(t).__name__ for t in images.cached_transforms] == [
        'LoadImage', 'ResizeCenterCrop']
    # every photo (sizes 40x30 to 61x55 here) cropped to 84x84: the pixels
    # of ResizeCenterCrop are tests/test_transforms.py's
    for index in range(len(images)):
        assert images[index]['img'].shape == (3, 84, 84)


def save_random_checkpoint(config: str, path: str) -> str:
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


# the options of docs/cross_domain.md, the data root of a fixture
def cross_domain_options(root: str) -> list:
    return [
        'test_dataloader.dataset.dataset.type=FewShotImageFolder',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'test_dataloader.dataset.dataset.split=all'
    ]


def test_cross_domain_meta_test_of_a_mini_imagenet_model(tmp_path):
    """tools/test.py on a miniImageNet 32px config with the cross-domain
    options reports the episodes of the Flowers folder as scored by hand."""
    root = write_flowers(str(tmp_path / 'flowers102'))
    config = osp.join(
        REPO, 'configs/protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-'
        '5shot.py')
    checkpoint = save_random_checkpoint(config, str(tmp_path / 'rand.pth'))
    options = cross_domain_options(root)
    work_dir = str(tmp_path / 'work')
    test_api.main([
        config, checkpoint, '--work-dir', work_dir, '--ways', '3', '--shots',
        '2', '--queries', '2', '--episodes', '3', '--cfg-options', *options
    ])
    (result, ) = glob.glob(
        osp.join(work_dir, '**', 'meta_test_*.json'), recursive=True)
    with open(result) as f:
        (row, ) = json.load(f)['results']
    assert (row['num_ways'], row['num_shots']) == (3, 2)
    assert_row_is_the_hand_run(
        row,
        hand_meta_test(
            config,
            checkpoint,
            options,
            ways=3,
            shots=2,
            queries=2,
            episodes=3))
    # the options changed only the test images
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_cfg_options(options))
    assert cfg.train_dataloader.dataset.dataset.type == 'MiniImageNet'
    assert cfg.test_dataloader.dataset.dataset.pipeline == Config.fromfile(
        config).test_dataloader.dataset.dataset.pipeline


# CUB's images/ with species missing (as the real 100-species subset):
# class number -> images
CUB_PRESENT = {1: 3, 2: 2, 4: 3, 7: 2, 8: 3, 11: 2, 12: 3, 14: 2, 16: 2}


def write_cub_subset(root: str) -> str:
    for number, count in CUB_PRESENT.items():
        folder = osp.join(root, 'images', f'{number:03d}.Bird_{number}')
        os.makedirs(folder)
        for k in range(count):
            Image.new('RGB', (10, 10),
                      colour(folder,
                             k)).save(osp.join(folder, f'{k:04d}.jpg'))
    return root


def test_cub_with_missing_species(tmp_path):
    """CUB splits a subset by the class numbers (index NNN - 1: even base,
    1 mod 4 val, 3 mod 4 novel), not by position among the present
    folders; FewShotImageFolder over images/ (configs/_base_/datasets/
    cub_all_32px.py) is every present species, the union of the three."""
    root = write_cub_subset(str(tmp_path / 'CUB_200_2011'))
    by_rule = {'train': [], 'val': [], 'test': []}
    for number in sorted(CUB_PRESENT):
        i = number - 1
        split = 'train' if i % 2 == 0 else 'val' if i % 4 == 1 else 'test'
        by_rule[split].append(f'{number:03d}.Bird_{number}')
    assert by_rule == dict(
        train=['001.Bird_1', '007.Bird_7', '011.Bird_11'],
        val=['002.Bird_2', '014.Bird_14'],
        test=['004.Bird_4', '008.Bird_8', '012.Bird_12', '016.Bird_16'])
    for split, classes in by_rule.items():
        assert CUB(data_root=root, split=split).classes == tuple(classes)
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/cub_all_32px.py'))
    every_cfg = cfg.test_dataloader.dataset.dataset
    every_cfg.data_root = osp.join(root, 'images')
    every = DATASETS.build(every_cfg)
    assert sorted(every.classes) == sorted(sum(by_rule.values(), []))
    assert len(every) == sum(CUB_PRESENT.values())
    # the study's bases read the CUB split of the same folder
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/cub_32px.py'))
    novel_cfg = cfg.test_dataloader.dataset.dataset
    novel_cfg.data_root = root
    novel = DATASETS.build(novel_cfg)
    assert novel.classes == tuple(by_rule['test'])
    assert novel[0]['img'].shape == (3, 32, 32)
