"""Fault tests of the second reliability probe (#26): checkpoints by URL,
one run per work dir, atomic writes on a full disk, and the weak answers
made clear (each creates the fault and asserts the error naming the file /
key / value, and that nothing was executed, lost or left half-written)."""
import glob
import json
import logging
import os
import os.path as osp
import pickle
import re
import resource
import signal
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import save_checkpoint

from conftest import write_tiny_omniglot
from mmmtl.apis import CustomTask, init_model
from mmmtl.apis import adapt as adapt_tool
from mmmtl.apis import custom_task as custom_task_module
from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool
from mmmtl.datasets import CUB, MiniImageNet, Omniglot
from mmmtl.engine.hooks import curves_hook
from mmmtl.utils.checkpoint import load_checkpoint_file
from mmmtl.utils.tool_setup import check_cfg_options
from mmmtl.utils.work_dir_lock import LOCK_NAME, WorkDirLock, _start_time
from test_datasets_cub import write_cub
from test_datasets_mini_imagenet import write_precut_layout
from test_faults import (LOAD_PATHS, WritesFile, _adapt_py, _custom_task,
                         _init_model, _test_py, save_weights, tiny)

assert tiny  # the module-scoped fixture of test_faults, shared here


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline torch.hub cache: $TORCH_HOME points into tmp_path; returns
    its checkpoints folder."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    folder = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(folder)
    return folder


def _work(tmp_path, load) -> str:
    return str(tmp_path / f'work{load.__name__}')


# --- BAD 1: checkpoints given as URLs --------------------------------------


URL_LOADS = [f for f in LOAD_PATHS if f.__name__ != '_adapt_py_load']


@pytest.mark.parametrize('load', URL_LOADS, ids=lambda f: f.__name__[1:])
def test_url_checkpoint_in_the_hub_cache_runs_nothing(load, tiny, hub,
                                                      tmp_path):
    """The issue's reproduction: a malicious w.pth already in torch.hub's
    cache, given as https://example.com/w.pth (no network is used: the
    cached file is what mmengine's HTTP loader would have unpickled)."""
    marker = str(tmp_path / 'pwned')
    state = torch.load(tiny['checkpoint'], weights_only=True)
    state['payload'] = WritesFile(marker)
    cached = osp.join(hub, 'w.pth')
    torch.save(state, cached)
    url = 'https://example.com/w.pth'
    work = _work(tmp_path, load)
    with pytest.raises(pickle.UnpicklingError) as info:
        load(tiny, url, work)
    message = str(info.value)
    assert url in message and cached in message
    assert 'refused by weights-only loading' in message
    assert not osp.exists(marker)
    assert not glob.glob(osp.join(work, '*.pth'))


def test_url_checkpoint_loads_weights_only(tiny, hub):
    """A good cached checkpoint loads by its URL, as the local file does."""
    torch.save(torch.load(tiny['checkpoint'], weights_only=True),
               osp.join(hub, 'good.pth'))
    model, _ = init_model(tiny['config'], 'http://example.com/x/good.pth')
    reference, _ = init_model(tiny['config'], tiny['checkpoint'])
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize(
    'url', ['open-mmlab://resnet50_v1c', 's3://bucket/w.pth',
            'torchvision://resnet18', 'pavi://model/w.pth'])
def test_other_url_schemes_are_refused(url, tiny, tmp_path):
    work = str(tmp_path / 'work')
    for load in (_init_model, _load_from_cfg):
        with pytest.raises(ValueError, match=f'checkpoint {url}: mmmtl loads '
                           'checkpoints weights-only from local files and '
                           r'http\(s\) URLs only'):
            load(tiny, url, work)


def _load_from_cfg(tiny, path, work):
    train_tool.main([
        tiny['config'], '--work-dir', work, '--cfg-options',
        f'load_from={path}', f'experiment_name={osp.basename(work)}'
    ])


# --- damaged, foreign and crafted checkpoint files -------------------------

TEXT_LOADS = [_init_model, _custom_task, _adapt_py, _test_py]


@pytest.mark.parametrize('load', TEXT_LOADS, ids=lambda f: f.__name__[1:])
def test_text_file_and_directory_as_checkpoint_are_named(load, tiny,
                                                         tmp_path):
    text = tmp_path / 'passwd'
    text.write_text('root:x:0:0:root:/root:/bin/bash\n')
    link = str(tmp_path / 'weights.pth')
    os.symlink(str(text), link)
    work = str(tmp_path / 'work')
    with pytest.raises(RuntimeError,
                       match=f'checkpoint {link} is not a torch checkpoint: '
                       "it is neither .* it starts with b'root'"):
        load(tiny, link, work)
    folder = tmp_path / 'run'
    folder.mkdir()
    (folder / 'iter_3.pth').write_bytes(b'')
    with pytest.raises(IsADirectoryError,
                       match=f'checkpoint {folder} is a directory, not a '
                       r'checkpoint file \(give the .pth file itself; it '
                       'holds iter_3.pth'):
        load(tiny, str(folder), work)


def _record_offset(path: str, suffix: str) -> int:
    """Where the data of the zip record ending with ``suffix`` starts."""
    with zipfile.ZipFile(path) as archive:
        info = next(r for r in archive.infolist()
                    if r.filename.endswith(suffix))
    with open(path, 'rb') as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), '<u2')
    return info.header_offset + 30 + int(name_len) + int(extra_len)


def test_bit_flipped_checkpoint_is_refused_by_crc(tiny, tmp_path):
    path = str(tmp_path / 'flipped.pth')
    data = bytearray(open(tiny['checkpoint'], 'rb').read())
    offset = _record_offset(tiny['checkpoint'], 'data/0')
    data[offset + 2] ^= 0x10  # one bit of the first tensor
    with open(path, 'wb') as f:
        f.write(data)
    # torch itself does not notice: the weight changes silently
    changed = torch.load(path, weights_only=True)['state_dict']
    original = torch.load(tiny['checkpoint'], weights_only=True)
    assert any(not torch.equal(v, original['state_dict'][k])
               for k, v in changed.items())
    with pytest.raises(RuntimeError,
                       match=f'checkpoint {path} is damaged: the CRC of its '
                       'record .*data/0 does not match'):
        init_model(tiny['config'], path)


def test_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    """A 64 MiB record deflated into a ~64 KiB file: refused from the zip
    directory's declared sizes; torch never reads it."""
    path = str(tmp_path / 'bomb.pth')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('bomb/data.pkl', pickle.dumps({}))
        with archive.open('bomb/data/0', 'w') as record:
            for _ in range(64):
                record.write(bytes(1 << 20))
    size = osp.getsize(path)
    assert size < (1 << 20)

    def no_torch_load(*args, **kwargs):
        raise AssertionError('torch.load was reached')

    monkeypatch.setattr(torch, 'load', no_torch_load)
    with pytest.raises(RuntimeError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert f'bomb/data/0: {64 << 20} bytes' in message
    assert f'{size}-byte file' in message and 'Nothing was inflated' in message


@pytest.mark.parametrize('dtype', [torch.int64, torch.bool])
def test_integer_or_bool_weights_are_refused_naming_the_key(
        dtype, tiny, tmp_path):
    state = torch.load(tiny['checkpoint'], weights_only=True)
    key = 'head.fc.weight'
    state['state_dict'][key] = state['state_dict'][key].to(dtype)
    path = str(tmp_path / 'retyped.pth')
    torch.save(state, path)
    with pytest.raises(RuntimeError,
                       match=f'checkpoint {path} does not fit .*another kind '
                       f'of dtype: {key} \\(checkpoint {dtype}, model '
                       'torch.float32\\)'):
        init_model(tiny['config'], path)
    with pytest.raises(RuntimeError, match=f'{key} \\(checkpoint {dtype}'):
        _test_py(tiny, path, str(tmp_path / 'work'))


def test_half_precision_weights_load_with_a_warning(tiny, tmp_path):
    state = torch.load(tiny['checkpoint'], weights_only=True)
    key = 'head.fc.weight'
    state['state_dict'][key] = state['state_dict'][key].half()
    path = str(tmp_path / 'half.pth')
    torch.save(state, path)
    records = _capture_warnings()
    try:
        model, _ = init_model(tiny['config'], path)
    finally:
        _stop_capture(records)
    assert torch.equal(model.state_dict()[key],
                       state['state_dict'][key].float())
    assert any(f'{key} (torch.float16 to torch.float32)' in r.getMessage()
               for r in records)


def _capture_warnings() -> list:
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    MMLogger.get_current_instance().addHandler(handler)
    records.append(handler)
    return records


def _stop_capture(records: list) -> None:
    MMLogger.get_current_instance().removeHandler(records.pop(0))


# --- the adapted-task file and CustomTask ----------------------------------


@pytest.fixture
def adapted(tiny, tmp_path):
    """A task adapted on the tiny support folder, saved; returns (task,
    path)."""
    task = CustomTask.from_config(tiny['config'], tiny['checkpoint'])
    task.adapt(tiny['support'])
    path = str(tmp_path / 'adapted.pth')
    task.save(path)
    return task, path


def _rewrite(path: str, out: str, **changes) -> str:
    saved = torch.load(path, weights_only=True)
    for key, change in changes.items():
        saved[key] = change(saved[key])
    torch.save(saved, out)
    return out


def test_crafted_task_sizes_are_refused_before_allocating(adapted, tmp_path):
    _, path = adapted

    def huge_image(text):
        cfg = json.loads(text)
        cfg['image_size'] = 20000
        return json.dumps(cfg)

    crafted = _rewrite(path, str(tmp_path / 'big_image.pth'),
                       dataset_cfg=huge_image)
    with pytest.raises(ValueError,
                       match=f'{crafted}: dataset_cfg.image_size = 20000 is '
                       'over the largest image side mmmtl prepares, 2048'):
        adapt_tool.main(['--load', crafted, '--save', str(tmp_path / 'x')])

    def wider_model(text):
        cfg = json.loads(text)
        cfg['backbone']['channels'] = [4, 4096]
        return json.dumps(cfg)

    crafted = _rewrite(path, str(tmp_path / 'big_model.pth'),
                       model_cfg=wider_model)
    devices = []
    build = custom_task_module.MODELS.build

    def recording_build(cfg, *args, **kwargs):
        devices.append(torch.empty(0).device.type)  # the default device
        return build(cfg, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(custom_task_module.MODELS, 'build', recording_build)
        with pytest.raises(RuntimeError,
                           match=f'checkpoint {crafted} does not fit .*'
                           'another shape: backbone'):
            CustomTask.load(crafted)
    # the model config was tried on the meta device only (no memory)
    assert devices and set(devices) == {'meta'}


def test_crafted_task_fields_are_refused_naming_the_file(adapted, tmp_path):
    _, path = adapted
    for field, change in (('classes', lambda c: [c[0], 'a\nb', c[2]]),
                          ('model_cfg', lambda c: 'print(1)'),
                          ('task_state', lambda s: dict(s, x=[1]))):
        crafted = _rewrite(path, str(tmp_path / f'{field}.pth'),
                           **{field: change})
        with pytest.raises(ValueError, match=f'{crafted}: {field} '):
            CustomTask.load(crafted)


def test_saved_task_reloads_identically(adapted, tiny):
    task, path = adapted
    again = CustomTask.load(path)
    assert again.classes == task.classes
    assert torch.equal(again.probabilities(tiny['query']),
                       task.probabilities(tiny['query']))


def test_support_set_is_bounded_and_queries_go_in_batches(
        tiny, monkeypatch):
    task = CustomTask.from_config(tiny['config'], tiny['checkpoint'])
    with pytest.raises(ValueError,
                       match=f'adapt: 3 support images in {tiny["support"]} '
                       r"\(class 'class0' has 1\), over max_images=2"):
        task.adapt(tiny['support'], max_images=2)
    task.adapt(tiny['support'])
    queries = sorted(glob.glob(osp.join(tiny['support'], '*', '*.png')))
    queries = queries * 2  # 6 images
    # models normalising with the batch's statistics (MAML) see each batch
    # together: the reference is the two batches given separately
    separately = torch.cat([task.probabilities(queries[:4]),
                            task.probabilities(queries[4:])])
    calls = []
    predict_query = task.model.predict_query

    def counting(state, batch):
        calls.append(len(batch))
        return predict_query(state, batch)

    monkeypatch.setattr(task.model, 'predict_query', counting)
    monkeypatch.setattr(custom_task_module, 'QUERY_BATCH', 4)
    batched = task.probabilities(queries)
    assert calls == [4, 2]
    assert torch.equal(batched, separately)


def test_class_names_are_nfc_and_table_safe(tiny):
    task = CustomTask.from_config(tiny['config'], tiny['checkpoint'])
    rng = np.random.default_rng(1)
    images = [(rng.random((8, 8)) > 0.5).astype(np.uint8) * 255
              for _ in range(4)]
    nfc = unicodedata.normalize('NFC', 'café')
    nfd = unicodedata.normalize('NFD', 'café')
    assert nfc != nfd
    task.adapt([(images[0], nfc), (images[1], nfd), (images[2], 'tea'),
                (images[3], 'milk')])
    assert task.classes == [nfc, 'tea', 'milk']
    for bad in ('a|b', 'two\nlines'):
        with pytest.raises(ValueError,
                           match=re.escape(f'class name {bad!r}: class '
                                           'names must')):
            task.adapt([(images[0], bad), (images[1], 'tea'),
                        (images[2], 'milk')])


def test_save_into_read_only_folder_names_the_path(tiny, tmp_path,
                                                   monkeypatch, capsys):
    folder = tmp_path / 'read_only'
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root ignores the mode: refuse as the kernel would

        def refused(*args, **kwargs):
            raise PermissionError(13, 'Permission denied')

        monkeypatch.setattr(tempfile, 'mkstemp', refused)
    path = str(folder / 'adapted.pth')
    with pytest.raises(PermissionError,
                       match=f'cannot write {path}: Permission denied'):
        adapt_tool.main([
            tiny['config'], tiny['checkpoint'], '--support', tiny['support'],
            '--save', path
        ])
    assert os.listdir(folder) == []


def test_nan_weights_through_adapt_are_refused(tiny, tmp_path, capsys):
    nan = save_weights(
        tiny['config'], str(tmp_path / 'nan.pth'), fill=float('nan'))
    out = str(tmp_path / 'out.json')
    with pytest.raises(FloatingPointError,
                       match='MAML: non-finite class scores for 1 query '
                       f'images \\({tiny["query"]}\\)'):
        adapt_tool.main([
            tiny['config'], nan, '--support', tiny['support'], '--query',
            tiny['query'], '--json', out
        ])
    assert not osp.exists(out)
    assert '(nan)' not in capsys.readouterr().out


# --- disk full: atomic writes, the curves hook ----------------------------


class FileSizeLimit:
    """Writes past ``limit`` bytes of any file fail with EFBIG (as a full
    disk fails them with ENOSPC), for the duration of the block."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __enter__(self):
        self.old = resource.getrlimit(resource.RLIMIT_FSIZE)
        self.handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old[1]))

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_FSIZE, self.old)
        signal.signal(signal.SIGXFSZ, self.handler)


def test_checkpoint_write_on_a_full_disk_leaves_no_truncated_file(
        tiny, tmp_path):
    """mmengine's save_checkpoint, which the Runner's CheckpointHook
    calls for iter_N.pth / best_*.pth, through mmmtl's atomic backend."""
    state = torch.load(tiny['checkpoint'], weights_only=True)
    path = str(tmp_path / 'iter_2.pth')
    size = len(open(tiny['checkpoint'], 'rb').read())
    with FileSizeLimit(size // 2):
        with pytest.raises(OSError, match=f'cannot write {path}: File too '
                           'large; nothing was written under that name'):
            save_checkpoint(state, path)
    assert os.listdir(tmp_path) == []  # no iter_2.pth, no temporary file
    # an existing file keeps its content when its rewrite fails
    save_checkpoint(state, path)
    before = open(path, 'rb').read()
    state['state_dict']['head.fc.weight'] += 1
    with FileSizeLimit(size // 2):
        with pytest.raises(OSError, match=f'cannot write {path}'):
            save_checkpoint(state, path)
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['iter_2.pth']


def test_task_save_on_a_full_disk_leaves_no_truncated_file(
        adapted, tmp_path, monkeypatch):
    task, _ = adapted
    path = str(tmp_path / 'full' / 'task.pth')
    os.makedirs(osp.dirname(path))
    real_save = torch.save

    def save_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.seek(f.tell() // 2)
        f.truncate()
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(torch, 'save', save_then_fail)
    with pytest.raises(OSError,
                       match=f'cannot write {path}: No space left on device'):
        task.save(path)
    assert os.listdir(osp.dirname(path)) == []


def test_curves_hook_failure_does_not_fail_a_finished_training(
        tiny, tmp_path, monkeypatch):
    def disk_full(records, path, title=''):
        raise OSError(28, f'No space left on device: {path}')

    monkeypatch.setattr(curves_hook, 'plot_curves', disk_full)
    work = str(tmp_path / 'work')
    train_tool.main([
        tiny['config'], '--work-dir', work, '--cfg-options',
        'experiment_name=curves_fail'
    ])
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    assert not osp.exists(osp.join(work, 'training_curves.png'))
    (log, ) = glob.glob(osp.join(work, '*', '*.log'))
    assert ('WARNING - TrainingCurvesHook: no training curves written to '
            f'{osp.join(work, "training_curves.png")} (OSError') in open(
                log).read()


# --- BAD 2: one run per work dir; --resume with nothing to resume ---------


def _train(tiny, work, *extra):
    train_tool.main([
        tiny['config'], '--work-dir', work, *extra, '--cfg-options',
        f'experiment_name=run{len(os.listdir(osp.dirname(work)))}'
    ])


def test_second_run_in_a_work_dir_is_refused_naming_the_first(
        tiny, tmp_path):
    work = str(tmp_path / 'work')
    os.makedirs(work)
    other = subprocess.Popen([sys.executable, '-c',
                              'import time; time.sleep(60)'])
    try:
        with open(osp.join(work, LOCK_NAME), 'w') as f:
            f.write(f'{other.pid} {os.uname().nodename} '
                    f'{_start_time(other.pid)}\n')
        with pytest.raises(RuntimeError,
                           match=f'work dir {work} is in use by another '
                           f'training run \\(pid {other.pid}; lock file '):
            _train(tiny, work)
        assert os.listdir(work) == [LOCK_NAME]  # nothing of this run
    finally:
        other.kill()
        other.wait()
    # that pid is gone now: its lock is stale, taken over, then released
    _train(tiny, work)
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    assert not osp.exists(osp.join(work, LOCK_NAME))


def test_lock_is_released_when_the_run_fails(tiny, tmp_path):
    work = str(tmp_path / 'work')
    with pytest.raises(FloatingPointError):
        _train(tiny, work, '--cfg-options', 'optim_wrapper.optimizer.lr=inf')
    assert not osp.exists(osp.join(work, LOCK_NAME))
    with WorkDirLock(work) as lock:
        assert open(lock.path).read().split()[0] == str(os.getpid())
    assert not osp.exists(osp.join(work, LOCK_NAME))


@pytest.mark.parametrize('case', ['empty', 'mistyped'])
def test_resume_with_nothing_to_resume_stops(case, tiny, tmp_path):
    work = str(tmp_path / 'work')
    if case == 'empty':
        os.makedirs(work)
    with pytest.raises(FileNotFoundError,
                       match=f'--resume: nothing to resume in the work dir '
                       f'{work} '):
        _train(tiny, work, '--resume')
    assert not glob.glob(osp.join(work, '*.pth'))
    _train(tiny, work, '--resume-if-any')  # asked to start fresh
    assert osp.isfile(osp.join(work, 'iter_3.pth'))


# --- options: --cfg-options, --time-budget, --paired-with ------------------


@pytest.mark.parametrize('option, message', [
    ('train_cfg.max_iters=abc', "train_cfg.max_iters='abc': the config's "
     'train_cfg.max_iters is 3, so the value must be an integer'),
    ('optim_wrapper.optimizer.lr=abc', "optim_wrapper.optimizer.lr='abc': "
     "the config's optim_wrapper.optimizer.lr is .*, so the value must be a "
     'number'),
    ('randomness.seed=1.5', 'randomness.seed=1.5: .* must be an integer'),
    ('randomnes.seed=3', "randomnes.seed: 'randomnes' is not a key of .* "
     r'nor a Runner argument \(did you mean randomness'),
])
def test_cfg_options_name_a_wrong_type_or_unknown_key(option, message, tiny,
                                                      tmp_path):
    work = str(tmp_path / 'work')
    cfg = Config.fromfile(tiny['config'])
    assert isinstance(cfg.randomness.seed, int)  # the config has a seed
    with pytest.raises(ValueError, match=f'--cfg-options {message}'):
        train_tool.main([tiny['config'], '--work-dir', work,
                         '--cfg-options', option])
    with pytest.raises(ValueError, match=f'--cfg-options {message}'):
        test_tool.main([tiny['config'], tiny['checkpoint'], '--work-dir',
                        work, '--cfg-options', option])
    assert not osp.exists(work)


def test_cfg_options_accept_none_and_whole_floats(tiny):
    """What the type check lets through: None (unset) anywhere, a whole
    float for an integer, any value for a key the config does not hold."""
    cfg = Config.fromfile(tiny['config'])
    check_cfg_options(
        cfg, {
            'randomness.seed': None,
            'train_cfg.max_iters': 4.0,
            'model.backbone.new_argument': 'x',
            'experiment_name': 'run'
        })
    with pytest.raises(ValueError, match='max_iters=4.5: .* must be an '
                       'integer'):
        check_cfg_options(cfg, {'train_cfg.max_iters': 4.5})


@pytest.mark.parametrize('value', ['nan', 'inf', '-1', '0'])
def test_time_budget_must_be_finite_and_positive(value, tiny, capsys):
    with pytest.raises(SystemExit):
        train_tool.main([tiny['config'], '--time-budget', value])
    assert ('--time-budget must be a finite number of minutes > 0, got '
            f'{float(value)}') in capsys.readouterr().err


@pytest.mark.parametrize('content, message', [
    ('{"results": [', 'is not a JSON file: Expecting value'),
    ('{"rows": []}', "is not the meta_test_\\*.json of a tools/test.py run "
     ".*KeyError: 'results'"),
])
def test_paired_with_bad_json_names_the_file(content, message, tiny,
                                             tmp_path):
    other = tmp_path / 'other.json'
    other.write_text(content)
    with pytest.raises(ValueError, match=f'paired_with={other} {message}'):
        test_tool.main([tiny['config'], tiny['checkpoint'], '--work-dir',
                        str(tmp_path / 'work'), '--paired-with', str(other)])


# --- datasets --------------------------------------------------------------


def test_class_in_two_splits_is_refused_naming_both_files(tmp_path):
    mini = write_precut_layout(str(tmp_path / 'mini'))
    train_csv, val_csv = osp.join(mini, 'train.csv'), osp.join(mini,
                                                               'val.csv')
    leaked = open(val_csv).read().splitlines()[1]
    with open(train_csv, 'a') as f:
        f.write(leaked + '\n')
    lines = len(open(train_csv).read().splitlines())
    wnid = leaked.split(',')[1]
    for split in ('train', 'val'):
        with pytest.raises(ValueError, match=f'class {wnid} of .* is also '
                           'in .* must not share classes') as info:
            MiniImageNet(data_root=mini, split=split)
        assert train_csv in str(info.value) and val_csv in str(info.value)
    assert f'{train_csv} (line {lines})' in str(info.value)

    root = str(tmp_path / 'omniglot')
    write_tiny_omniglot(root)
    split_dir = osp.join(root, 'splits', 'vinyals')
    test_txt, val_txt = (osp.join(split_dir, f'{s}.txt')
                         for s in ('test', 'val'))
    first_test = open(test_txt).readline().strip()
    character = '/'.join(first_test.split('/')[:2])
    with open(val_txt, 'a') as f:
        f.write(f'{character}/rot090\n')
    with pytest.raises(ValueError, match=f'character {character} of '
                       f'{test_txt} is also in {val_txt} \\(line'):
        Omniglot(data_root=root, split='test', image_size=8)


def test_omniglot_split_file_with_a_bom_loads(tmp_path):
    root = str(tmp_path / 'omniglot')
    write_tiny_omniglot(root)
    path = osp.join(root, 'splits', 'vinyals', 'test.txt')
    plain = Omniglot(data_root=root, split='test', image_size=8)
    text = open(path, encoding='utf-8').read()
    with open(path, 'w', encoding='utf-8-sig') as f:
        f.write(text)
    assert open(path, 'rb').read(3) == b'\xef\xbb\xbf'
    with_bom = Omniglot(data_root=root, split='test', image_size=8)
    assert with_bom.classes == plain.classes
    assert not with_bom.classes[0].startswith('\ufeff')


def test_cub_broken_symlink_class_folder_is_refused(tmp_path):
    root = write_cub(str(tmp_path / 'cub'))
    images = osp.join(root, 'images')
    folder = sorted(os.listdir(images))[1]
    moved = str(tmp_path / 'elsewhere')
    os.rename(osp.join(images, folder), moved)
    os.symlink(moved, osp.join(images, folder))
    assert len(CUB(data_root=root, split='val').classes) > 0  # a good link
    os.rename(moved, moved + '.gone')
    with pytest.raises(FileNotFoundError,
                       match=f'CUB: {osp.join(images, folder)} is a broken '
                       f'symbolic link \\(to {moved}\\)'):
        CUB(data_root=root, split='val')

