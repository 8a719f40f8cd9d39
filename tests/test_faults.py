"""Fault tests: each creates the fault (a malicious or damaged checkpoint, a
NaN run, a wrong model's checkpoint, a hidden CUB folder, a duplicated
class, a zero-byte image, a broken link, no queries) and asserts the clear
error naming the file or key, and that nothing was executed or lost."""
import glob
import logging
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MMLogger
from PIL import Image

from conftest import REPO, write_tiny_omniglot
from mmmtl.apis import CustomTask, init_model
from mmmtl.apis import adapt as adapt_tool
from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool
from mmmtl.apis.custom_task import read_support_folder
from mmmtl.datasets import CUB, MiniImageNet, Omniglot, TieredImageNet
from mmmtl.registry import MODELS
from mmmtl.utils.checkpoint import load_checkpoint_file, load_weights
from test_datasets_cub import EXPECTED, write_cub
from test_datasets_mini_imagenet import write_precut_layout
from test_datasets_tiered_imagenet import write_tiered

CONFIGS = dict(
    maml='configs/maml/maml_conv4_1xb32_omniglot_5way-1shot.py',
    protonet='configs/protonet/protonet_conv4_1xb1_omniglot_5way-1shot.py',
    mtl='configs/mtl/mtl-maml_conv4_1xb32_omniglot_5way-1shot.py')


def write_config(path, root: str, method: str = 'maml',
                 channels=(4, 4)) -> str:
    """The method's Omniglot config shrunk to 3-way 1-shot 8x8 episodes, a
    two-block Conv4 of ``channels``, 3 iterations (checkpoint after each,
    validation at the end), 2 test episodes of 1 query per class."""
    episodes = (f'num_ways=3, num_shots=1, num_queries=1, num_episodes=2, '
                f'dataset=dict(data_root={root!r}, image_size=8)')
    model = f'backbone=dict(channels={tuple(channels)}, stride=1, pool=True)'
    if method == 'maml':
        model += (f', head=dict(in_channels={4 * channels[-1]}), num_ways=3,'
                  ' adapter=dict(test_cfg=dict(num_steps=1))')
    text = f"""
_base_ = [{osp.join(REPO, CONFIGS[method])!r}]
model = dict({model})
train_dataloader = dict(
    batch_size=2,
    dataset=dict(num_ways=3, num_shots=1, num_queries=1,
                 dataset=dict(data_root={root!r}, image_size=8)))
val_dataloader = dict(dataset=dict({episodes}))
test_dataloader = dict(dataset=dict({episodes}))
train_cfg = dict(max_iters=3, val_interval=3)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def save_weights(config: str, path: str, fill=None) -> str:
    """A checkpoint of the config's freshly built model (``fill``: a value
    written into every head weight)."""
    model = MODELS.build(Config.fromfile(config).model)
    state = model.state_dict()
    if fill is not None:
        for key in state:
            if key.startswith('head.'):
                state[key].fill_(fill)
    torch.save(dict(meta=dict(), state_dict=state), path)
    return path


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Tiny Omniglot, a MAML config on it and a checkpoint of that model."""
    base = tmp_path_factory.mktemp('faults')
    root = str(base / 'omniglot')
    write_tiny_omniglot(root)
    config = write_config(base / 'maml.py', root)
    support, query = support_and_query(base / 'support')
    return dict(
        base=base,
        root=root,
        config=config,
        support=support,
        query=query,
        checkpoint=save_weights(config, str(base / 'maml.pth')))


class WritesFile:
    """Unpickling it (a full ``pickle.load``) creates ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def evil(tiny, tmp_path):
    """A checkpoint of the right model whose pickle also opens a file for
    writing; returns (checkpoint, the file it would create)."""
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    state = torch.load(tiny['checkpoint'], weights_only=True)
    state['payload'] = WritesFile(marker)
    torch.save(state, path)
    # the payload is real: a full unpickle creates the file
    torch.load(path, weights_only=False)
    assert osp.exists(marker)
    os.remove(marker)
    return path, marker


def support_and_query(folder) -> tuple:
    """A support folder of 3 classes (one drawing each) and a query."""
    rng = np.random.default_rng(0)
    for c in range(3):
        os.makedirs(folder / f'class{c}')
        Image.fromarray(rng.random((8, 8)) > 0.5).save(
            folder / f'class{c}' / 'a.png')
    return str(folder), str(folder / 'class0' / 'a.png')


def _test_py(tiny, path, work):
    test_tool.main([tiny['config'], path, '--work-dir', work])


def _adapt_py(tiny, path, work):
    adapt_tool.main([
        tiny['config'], path, '--support', tiny['support'], '--query',
        tiny['query']
    ])


def _adapt_py_load(tiny, path, work):
    adapt_tool.main(['--load', path, '--query', tiny['query']])


def _load_from(tiny, path, work):
    train_tool.main([
        tiny['config'], '--work-dir', work, '--cfg-options',
        f'load_from={path}', f'experiment_name={osp.basename(work)}'
    ])


def _resume(tiny, path, work):
    train_tool.main([
        tiny['config'], '--work-dir', work, '--resume', path,
        '--cfg-options', f'experiment_name={osp.basename(work)}'
    ])


def _init_model(tiny, path, work):
    init_model(tiny['config'], path)


def _custom_task(tiny, path, work):
    CustomTask.from_config(tiny['config'], path)


def _pretrained_init(tiny, path, work):
    cfg = Config.fromfile(tiny['config'])
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='backbone.')
    MODELS.build(cfg.model).init_weights()


LOAD_PATHS = [
    _test_py, _adapt_py, _adapt_py_load, _load_from, _resume, _init_model,
    _custom_task, _pretrained_init
]


@pytest.mark.parametrize('load', LOAD_PATHS, ids=lambda f: f.__name__[1:])
def test_malicious_checkpoint_runs_nothing_on_any_load_path(
        load, tiny, evil, tmp_path):
    path, marker = evil
    work = str(tmp_path / f'work{load.__name__}')
    with pytest.raises(pickle.UnpicklingError) as info:
        load(tiny, path, work)
    message = str(info.value)
    assert path in message and 'refused by weights-only loading' in message
    assert 'GLOBAL io.open' in message  # the reason, from torch
    assert not osp.exists(marker)
    assert not glob.glob(osp.join(work, '*.pth'))


def test_import_mmmtl_leaves_torch_load_safe(evil, tmp_path):
    path, marker = evil
    hub = str(tmp_path / 'hub.pth')
    torch.save(dict(hub=HistoryBuffer([1.0], [1])), hub)
    assert isinstance(load_checkpoint_file(hub)['hub'], HistoryBuffer)
    # plain torch.load after `import mmmtl` (conftest) and after mmmtl's
    # loader ran: still weights-only, and mmmtl's allow-list is not global
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(hub)
    assert HistoryBuffer not in torch.serialization.get_safe_globals()
    assert not osp.exists(marker)
    # and a caller's own allow-list entries survive mmmtl's loads
    with torch.serialization.safe_globals([HistoryBuffer]):
        load_checkpoint_file(hub)
        assert HistoryBuffer in torch.serialization.get_safe_globals()


class FetchesAttribute:
    """Abuses the allowed ``getattr`` of HistoryBuffer's pickles."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '_set_default_statistics'))


def test_history_buffer_getattr_is_limited_to_its_statistics(tmp_path):
    good = str(tmp_path / 'hub.pth')
    torch.save(dict(hub=HistoryBuffer([1.0, 3.0], [1, 1])), good)
    assert load_checkpoint_file(good)['hub'].mean() == 2.0
    bad = str(tmp_path / 'attr.pth')
    torch.save(dict(x=FetchesAttribute()), bad)
    with pytest.raises(pickle.UnpicklingError,
                       match='attr.pth.*_set_default_statistics'):
        load_checkpoint_file(bad)


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'text'])
def test_damaged_checkpoint_is_named(damage, tiny, tmp_path):
    path = str(tmp_path / f'{damage}.pth')
    data = open(tiny['checkpoint'], 'rb').read()
    with open(path, 'wb') as f:
        f.write({
            'empty': b'',
            'truncated': data[:len(data) // 2],
            'text': b'not a checkpoint\n'
        }[damage])
    # torch reads some damage as a pickle it refuses, some as a bad archive
    with pytest.raises((RuntimeError, pickle.UnpicklingError),
                       match=f'checkpoint {path}'):
        init_model(tiny['config'], path)
    if damage == 'empty':
        with pytest.raises(RuntimeError, match=f'{path} is empty'):
            _test_py(tiny, path, str(tmp_path / 'work'))


def test_nan_loss_stops_at_once_without_a_checkpoint_of_it(tiny, tmp_path):
    """Adam with lr 1e30: iteration 1 leaves huge (finite) weights, whose
    loss at iteration 2 overflows to NaN."""
    work = str(tmp_path / 'work')
    with pytest.raises(FloatingPointError) as info:
        train_tool.main([
            tiny['config'], '--work-dir', work, '--cfg-options',
            'optim_wrapper.optimizer.lr=1e30', 'experiment_name=nan_loss'
        ])
    message = str(info.value)
    assert 'non-finite loss at iteration 2' in message
    assert 'loss=nan' in message and 'accuracy=' in message
    saved = sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth')))
    assert saved == ['iter_1.pth']  # nothing of iteration 2, no best
    state = load_checkpoint_file(osp.join(work, 'iter_1.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())


def test_non_finite_step_stops_before_any_checkpoint(tiny, tmp_path):
    """lr = inf: the first optimizer step makes the weights non-finite."""
    work = str(tmp_path / 'work')
    with pytest.raises(FloatingPointError,
                       match='iteration 1: the optimizer step made .* '
                       'non-finite .*backbone'):
        train_tool.main([
            tiny['config'], '--work-dir', work, '--cfg-options',
            'optim_wrapper.optimizer.lr=inf', 'experiment_name=inf_step'
        ])
    assert not glob.glob(osp.join(work, '*.pth'))


def test_nan_scores_at_meta_test_raise_and_write_nothing(tiny, tmp_path):
    nan = save_weights(
        tiny['config'], str(tmp_path / 'nan.pth'), fill=float('nan'))
    work = str(tmp_path / 'work')
    with pytest.raises(FloatingPointError, match='non-finite class scores'):
        _test_py(tiny, nan, work)
    assert not glob.glob(osp.join(work, 'meta_test_*'))


def test_diverging_loss_is_logged_once_and_nan_names_the_terms(tiny):
    model = MODELS.build(Config.fromfile(tiny['config']).model)
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model.parse_losses(dict(loss=torch.tensor(2.0)))
        model.parse_losses(dict(loss=torch.tensor(1900.0)))  # < 1000 x 2
        assert records == []
        model.parse_losses(dict(loss=torch.tensor(2500.0)))  # > 1000 x 2
        model.parse_losses(dict(loss=torch.tensor(5e14)))
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    assert 'diverging: 2500' in records[0].getMessage()
    fresh = MODELS.build(Config.fromfile(tiny['config']).model)
    fresh.parse_losses(dict(loss=torch.tensor(5e14)))  # over 1e6 at once
    assert fresh._divergence_reported
    with pytest.raises(FloatingPointError,
                       match=r'non-finite loss .*loss=inf.*accuracy=50'):
        model.parse_losses(
            dict(loss=torch.tensor(float('inf')), accuracy=torch.tensor(50.)))


def test_diverging_run_warns_in_its_log_and_trains_on(tiny, tmp_path):
    """The issue's case: MAML with inner lr 1e8 (loss about 1e15)."""
    work = str(tmp_path / 'work')
    train_tool.main([
        tiny['config'], '--work-dir', work, '--cfg-options',
        'model.adapter.lr=1e8', 'experiment_name=diverging'
    ])
    (log, ) = glob.glob(osp.join(work, '*', '*.log'))
    text = open(log).read()
    assert 'WARNING - MAML: the loss is diverging' in text
    assert text.count('the loss is diverging') == 1
    assert osp.isfile(osp.join(work, 'iter_3.pth'))


def test_wrong_models_checkpoint_is_refused_naming_both(tiny, tmp_path):
    protonet = write_config(tmp_path / 'protonet.py', tiny['root'], 'protonet')
    wider = write_config(tmp_path / 'wider.py', tiny['root'], channels=(8, 8))
    work = str(tmp_path / 'work')
    with pytest.raises(RuntimeError) as info:  # MAML weights, ProtoNet model
        _test_py(dict(tiny, config=protonet), tiny['checkpoint'], work)
    message = str(info.value)
    assert tiny['checkpoint'] in message and protonet in message
    assert 'head.fc.weight' in message and 'not in the model' in message
    with pytest.raises(RuntimeError, match='another shape: backbone'):
        _test_py(dict(tiny, config=wider), tiny['checkpoint'], work)
    with pytest.raises(RuntimeError, match=f'{wider}.*another shape'):
        init_model(wider, tiny['checkpoint'])
    assert not glob.glob(osp.join(work, 'meta_test_*'))


def test_mtl_checkpoint_loads_strictly_and_into_maml_only_on_request(
        tiny, tmp_path):
    """MTL keeps its shared backbone once (state-dict hooks); its checkpoint
    loads strictly into MTL, and into MAML only as an explicit partial
    load (load_from_strict=False), which takes the backbone."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS['mtl']))
    mtl = MODELS.build(cfg.model)
    other = MODELS.build(cfg.model)
    path = str(tmp_path / 'mtl.pth')
    torch.save(dict(state_dict=mtl.state_dict()), path)
    load_weights(other, load_checkpoint_file(path), path, strict=True)
    for name, tensor in other.state_dict(keep_vars=False).items():
        assert torch.equal(tensor, mtl.state_dict()[name]), name
    # the branches use the loaded backbone
    for branch in (other.meta_branch, other.transfer_branch):
        for name, tensor in branch.backbone.state_dict().items():
            assert torch.equal(tensor, mtl.backbone.state_dict()[name]), name
    maml = MODELS.build(
        Config.fromfile(osp.join(REPO, CONFIGS['maml'])).model)
    with pytest.raises(RuntimeError, match='strict load.*not in the model'):
        load_weights(maml, load_checkpoint_file(path), path, strict=True)
    load_weights(maml, load_checkpoint_file(path), path, strict=False)
    for name, tensor in maml.backbone.state_dict().items():
        assert torch.equal(tensor, mtl.backbone.state_dict()[name]), name


def test_cells_the_model_cannot_run_are_refused_before_any(tiny, tmp_path):
    """The README's ``--ways 5 20`` on a fixed-way MAML: the 20-way cells
    are named with the model's constraint before the 3-way cells run."""
    work = str(tmp_path / 'work')
    with pytest.raises(ValueError) as info:
        test_tool.main([
            tiny['config'], tiny['checkpoint'], '--work-dir', work, '--ways',
            '3', '20', '--shots', '1', '5'
        ])
    message = str(info.value)
    assert 'cells (20, 1), (20, 5):' in message
    assert 'MAML has a 3-way head; got 20-way' in message
    assert '(3, 1)' not in message and 'No cell was run' in message
    assert not glob.glob(osp.join(work, 'meta_test_*'))


@pytest.mark.parametrize('option',
                         ['--queries', '--episodes', '--shots', '--ways'])
def test_non_positive_counts_are_refused(option, tiny, capsys):
    with pytest.raises(SystemExit):
        test_tool.main([tiny['config'], tiny['checkpoint'], option, '0'])
    assert f'{option} must be >= 1' in capsys.readouterr().err


def test_episodes_without_queries_are_refused_at_meta_test(tiny, tmp_path):
    with pytest.raises(ValueError, match='no query images'):
        test_tool.main([
            tiny['config'], tiny['checkpoint'], '--work-dir',
            str(tmp_path), '--cfg-options',
            'test_dataloader.dataset.num_queries=0'
        ])


def test_cub_ignores_hidden_folders_and_refuses_others(tmp_path):
    root = write_cub(str(tmp_path / 'cub'))
    images = osp.join(root, 'images')
    os.makedirs(osp.join(images, '.ipynb_checkpoints'))
    open(osp.join(images, EXPECTED['test'][0], '._x.jpg'), 'w').close()
    test = CUB(data_root=root, split='test')
    assert test.classes == tuple(EXPECTED['test'])
    assert not any('._' in test.get_data_info(i)['img_path']
                   for i in range(len(test)))
    # a missing class folder shifts no other class's split
    os.rename(osp.join(images, EXPECTED['train'][0]),
              osp.join(tmp_path, 'moved'))
    assert CUB(data_root=root, split='test').classes == tuple(EXPECTED['test'])
    os.makedirs(osp.join(images, 'extra'))
    with pytest.raises(ValueError, match=r'images/extra is not a class folder'):
        CUB(data_root=root, split='test')


def test_duplicate_classes_in_split_files_name_file_and_line(tmp_path):
    root = str(tmp_path / 'omniglot')
    write_tiny_omniglot(root)
    split = osp.join(root, 'splits', 'vinyals', 'test.txt')
    lines = open(split).read().splitlines()
    with open(split, 'a') as f:
        f.write(lines[1] + '\n')
    with pytest.raises(ValueError,
                       match=f'{split} line {len(lines) + 1}: .* repeats '
                       'line 2'):
        Omniglot(data_root=root, split='test', image_size=8)

    mini = write_precut_layout(str(tmp_path / 'mini'))
    path = osp.join(mini, 'val.csv')
    rows = open(path).read().splitlines()
    with open(path, 'a') as f:
        f.write(rows[3] + '\n')
    with pytest.raises(ValueError,
                       match=f'{path} line {len(rows) + 1}: .* repeats line '
                       '4'):
        MiniImageNet(data_root=mini, split='val')

    tiered = write_tiered(str(tmp_path / 'tiered'))
    labels_path = osp.join(tiered, 'val_labels.pkl')
    with open(labels_path, 'rb') as f:
        labels = pickle.load(f)
    names = labels['label_specific_str']
    labels['label_specific_str'] = [names[0]] * len(names)
    with open(labels_path, 'wb') as f:
        pickle.dump(labels, f)
    with pytest.raises(ValueError,
                       match=f'{labels_path}: label_specific_str entry 1 .* '
                       'repeats entry 0'):
        TieredImageNet(data_root=tiered, split='val')


def test_tiered_label_pickle_is_plain_data_only(tmp_path):
    tiered = write_tiered(str(tmp_path / 'tiered'))
    marker = str(tmp_path / 'pwned')
    labels_path = osp.join(tiered, 'test_labels.pkl')
    with open(labels_path, 'wb') as f:
        pickle.dump(dict(label_specific=WritesFile(marker)), f)
    with pytest.raises(pickle.UnpicklingError,
                       match=f'{labels_path}: refers to io.open'):
        TieredImageNet(data_root=tiered, split='test')
    assert not osp.exists(marker)


def test_zero_byte_image_is_named(tmp_path):
    root = write_cub(str(tmp_path / 'cub'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/cub.py'))
    test = CUB(data_root=root, split='test', pipeline=cfg.test_pipeline)
    path = test.get_data_info(1)['img_path']
    open(path, 'wb').close()
    with pytest.raises(ValueError,
                       match=f'cannot decode the image at {path} \\(0 bytes'):
        test[1]


def test_broken_link_in_support_folder_is_named(tmp_path):
    support, _ = support_and_query(tmp_path / 'support')
    link = osp.join(support, 'class1', 'b.png')
    os.symlink(osp.join(support, 'gone.png'), link)
    with pytest.raises(FileNotFoundError,
                       match=f'{link} is a broken symbolic link'):
        read_support_folder(support)
    os.remove(link)
    os.symlink(str(tmp_path / 'nowhere'), osp.join(support, 'class3'))
    with pytest.raises(FileNotFoundError, match='class3 is a broken'):
        read_support_folder(support)
