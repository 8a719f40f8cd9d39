"""The OpenMMLab-style helper tools: tools/misc/print_config.py,
tools/visualization/browse_dataset.py, tools/analysis_tools/
confusion_matrix.py and get_flops.py, on the generated tiny Omniglot with
a randomly initialised ProtoNet (nothing trained)."""
import csv
import json
import os.path as osp
import textwrap

import matplotlib.image
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import REPO, load_script, write_tiny_omniglot

PROTONET = osp.join(REPO, 'configs', 'protonet',
                    'protonet_conv4_1xb1_omniglot_5way-1shot.py')
print_config = load_script('tools/misc/print_config.py')
browse_dataset = load_script('tools/visualization/browse_dataset.py')
confusion_matrix = load_script('tools/analysis_tools/confusion_matrix.py')
get_flops = load_script('tools/analysis_tools/get_flops.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A 3-way ProtoNet config on the tiny Omniglot at 12x12 (a two-block
    Conv4) and a checkpoint of its random initialisation."""
    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    tmp = tmp_path_factory.mktemp('tools')
    root = str(tmp / 'omniglot')
    write_tiny_omniglot(root)
    config = tmp / 'tiny_protonet.py'
    config.write_text(
        textwrap.dedent(f"""
        _base_ = [{PROTONET!r}]
        model = dict(backbone=dict(channels=(4, 4)))
        data = dict(data_root={root!r}, image_size=12)
        train_dataloader = dict(dataset=dict(dataset=data))
        val_dataloader = dict(dataset=dict(dataset=data))
        test_dataloader = dict(dataset=dict(
            num_ways=3, num_queries=2, num_episodes=5, dataset=data))
        """))
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = str(tmp / 'random.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return dict(config=str(config), checkpoint=checkpoint, tmp=tmp)


def test_print_config_prints_the_resolved_config_with_options(
        tiny, tmp_path, capsys):
    saved = str(tmp_path / 'resolved.py')
    text = print_config.main([
        tiny['config'], '--cfg-options', 'train_cfg.max_iters=7',
        'model.backbone.channels=[8,8]', '--save', saved
    ])
    assert capsys.readouterr().out.startswith(text)
    expected = Config.fromfile(tiny['config'])
    expected.merge_from_dict({'train_cfg.max_iters': 7,
                              'model.backbone.channels': [8, 8]})
    # the printed text is the config: read back, it is the same
    printed = Config.fromstring(text, '.py')
    assert printed.train_cfg.max_iters == 7
    assert printed.to_dict() == expected.to_dict()
    assert Config.fromfile(saved).to_dict() == expected.to_dict()


def test_browse_dataset_grid_of_pipeline_outputs(tiny, tmp_path, capsys):
    out = str(tmp_path / 'grid.png')
    samples = browse_dataset.main(
        [tiny['config'], '--num', '10', '--seed', '1', '--out', out])
    # what the test dataset gives for the drawn indices, as the model gets it
    from mmmtl.registry import DATASETS
    dataset = DATASETS.build(browse_dataset.image_dataset_cfg(
        Config.fromfile(tiny['config']), 'test'))
    picked = sorted(np.random.default_rng(1).choice(
        len(dataset), 10, replace=False).tolist())
    assert len(samples) == 10
    for (image, label), index in zip(samples, picked):
        item = dataset[index]
        assert torch.equal(image, item['img'])
        assert image.shape == (1, 12, 12) and image.dtype == torch.uint8
        assert label == dataset.classes[int(item['gt_label'])]
    assert '10 images (2 x 8 grid) written to' in capsys.readouterr().out
    # 2 rows x 8 columns of 1.6 x 1.8 inches (+ title), 100 dpi
    assert matplotlib.image.imread(out).shape[:2] == (420, 1280)


def test_browse_dataset_shows_own_colour_photo_as_the_model_sees_it(
        tiny, tmp_path):
    photos = tmp_path / 'photos' / 'red_square'
    photos.mkdir(parents=True)
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0] = 200  # a red photo, 60 wide
    Image.fromarray(rgb).save(photos / 'a.png')
    (image, label), = browse_dataset.main([
        tiny['config'], '--images', str(tmp_path / 'photos'), '--out',
        str(tmp_path / 'own.png')
    ])
    assert label == 'red_square'
    # Omniglot's decoding: grey ('L': 0.299 R), resized to 12, inverted
    grey = round(200 * 299 / 1000)
    assert image.shape == (1, 12, 12)
    assert torch.all(image == 255 - grey)
    assert osp.isfile(tmp_path / 'own.png')


def test_confusion_matrix_per_class_accuracy_matches_the_meta_test(
        tiny, tmp_path, capsys):
    from mmmtl.apis import test as test_tool
    out_dir = str(tmp_path / 'analysis')
    summary = confusion_matrix.main([
        tiny['config'], tiny['checkpoint'], '--ways', '3', '--episodes', '6',
        '--top', '4', '--out-dir', out_dir
    ])
    # tools/test.py on the same episodes: its mean over episodes equals the
    # accuracy over all queries (every episode has 3 x 2 queries)
    (row, ) = test_tool.main([
        tiny['config'], tiny['checkpoint'], '--ways', '3', '--episodes', '6',
        '--work-dir', str(tmp_path / 'test')
    ])
    assert summary['query_accuracy'] == pytest.approx(row['accuracy_mean'])
    rows = summary['per_class']
    assert sum(r['queries'] for r in rows) == 6 * 3 * 2
    assert sum(r['correct'] for r in rows) == pytest.approx(
        row['accuracy_mean'] / 100 * 36)
    assert [r['accuracy'] for r in rows] == sorted(
        r['accuracy'] for r in rows)
    for r in rows:
        assert r['accuracy'] == pytest.approx(
            100 * r['correct'] / r['queries'])
    with open(osp.join(out_dir, 'per_class_accuracy_3way-1shot.csv')) as f:
        assert [line['cls'] for line in csv.DictReader(f)] == [
            r['cls'] for r in rows]
    saved = json.load(
        open(osp.join(out_dir, 'per_class_accuracy_3way-1shot.json')))
    matrix = np.array(saved['confusion_percent'])
    assert saved['confusion_classes'] == [r['cls'] for r in rows[:4]]
    assert matrix.shape == (4, 5)
    assert np.allclose(matrix.sum(axis=1), 100)
    # the diagonal is each class's accuracy
    assert np.allclose(np.diag(matrix[:, :4]),
                       [r['accuracy'] for r in rows[:4]])
    assert osp.isfile(osp.join(out_dir, 'confusion_matrix_3way-1shot.png'))
    assert 'query accuracy' in capsys.readouterr().out


def test_get_flops_counts_the_backbone_convolutions(tiny, capsys):
    info = get_flops.main([tiny['config']])
    assert info['shape'] == (1, 12, 12)  # from the test pipeline
    # by hand: each 3x3 convolution of the two blocks costs
    # Cin * Cout * 9 multiply-adds per output pixel (padding 1, each block
    # halves the side by max-pooling: 12 -> 6 -> 3), and its batch norm (in
    # eval mode) 2 per output element (mmengine's count: scale and shift)
    convolutions = 1 * 4 * 9 * 12 * 12 + 4 * 4 * 9 * 6 * 6
    batch_norms = 2 * (4 * 12 * 12 + 4 * 6 * 6)
    expected = convolutions + batch_norms
    assert info['flops'] == expected
    from mmmtl.registry import MODELS
    model = MODELS.build(Config.fromfile(tiny['config']).model)
    assert info['params'] == sum(
        p.numel() for p in model.backbone.parameters())
    assert f'backbone FLOPs per image: {info["flops_str"]}' in \
        capsys.readouterr().out


def test_confusion_matrix_of_a_custom_tasks_predictions(tmp_path, capsys):
    """tools/adapt.py --json output on queries in class folders: the true
    class is the folder, the prediction the top-1 class (by hand: a 1 of 2,
    b 1 of 1, c 0 of 1, taken for a)."""
    predictions = tmp_path / 'predictions.json'

    def query(folder, name, top):
        return dict(image=f'my_queries/{folder}/{name}.png',
                    classes=top, probs=[0.5] * len(top))

    predictions.write_text(json.dumps(dict(
        classes=['a', 'b', 'c'],
        predictions=[
            query('a', '1', ['a', 'b']), query('a', '2', ['b', 'a']),
            query('b', '1', ['b', 'c']), query('c', '1', ['a', 'c'])
        ])))
    summary = confusion_matrix.main(
        ['--predictions', str(predictions), '--top', '3'])
    assert summary['query_accuracy'] == 50.0
    assert [(r['cls'], r['queries'], r['correct'], r['most_confused_with'])
            for r in summary['per_class']] == [
                ('c', 1, 0, 'a'), ('a', 2, 1, 'b'), ('b', 1, 1, '')]
    assert summary['confusion_percent'] == [
        [0.0, 100.0, 0.0, 0.0],  # c: taken for a
        [0.0, 50.0, 50.0, 0.0],  # a
        [0.0, 0.0, 100.0, 0.0]]  # b
    assert osp.isfile(tmp_path / 'confusion_matrix_custom-task.png')
    assert 'b: 100.0% of 1 queries (no errors)' in capsys.readouterr().out
    # a query outside the task's class folders is named
    predictions.write_text(json.dumps(dict(
        classes=['a', 'b'], predictions=[query('zebra', '1', ['a'])])))
    with pytest.raises(ValueError, match="my_queries/zebra/1.png is in "
                       "folder 'zebra'"):
        confusion_matrix.main(['--predictions', str(predictions)])
    with pytest.raises(SystemExit):  # one source or the other
        confusion_matrix.main(['cfg.py', '--predictions', str(predictions)])
