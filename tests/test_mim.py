"""The openmim packaging: a wheel of this tree carries mmmtl/.mim (configs,
tools, model-index.yml) whose tools train and meta-test from the packaged
configs, checked without openmim (CI: openmim is not a dependency, and its
openxlab dependency pins a setuptools that torch's excludes); with openmim
installed, `mim train mmmtl CONFIG` and `mim test mmmtl CONFIG --checkpoint
CKPT` on that install (docs/getting_started.md says how to add it)."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, write_tiny_omniglot

CONFIG = 'mtl-maml_conv4_1xb8_omniglot_5way-1shot.py'


def mim_available():
    try:
        import mim  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope='module')
def wheel_site(tmp_path_factory):
    """A wheel of this tree (no network: no build isolation, no
    dependencies), installed into its own folder that comes first on the
    path: the packaged mmmtl is found there, not the editable checkout.
    Built from a copy without build outputs: setuptools builds in the
    source tree and would pack a stale build/ folder's files too."""
    tmp_path = tmp_path_factory.mktemp('wheel')
    source = tmp_path / 'source'
    top = shutil.ignore_patterns('.git', 'data', 'build', 'work_dirs',
                                 '.venv*', '*.egg-info')

    def ignore(folder, names):
        return (top(folder, names) if osp.samefile(folder, REPO) else
                set()) | {n for n in names if n == '__pycache__'}

    shutil.copytree(REPO, source, symlinks=True, ignore=ignore)
    run = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', str(source), '--no-deps',
        '--no-build-isolation', '-q', '-w',
        str(tmp_path / 'wheel')
    ], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    site = tmp_path / 'site'
    run = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
        '--target',
        str(site), *glob.glob(str(tmp_path / 'wheel' / '*.whl'))
    ], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return site


def tiny_config(tmp_path, config_path: str):
    """The packaged MTL config on a generated Omniglot, 2 iterations."""
    root = str(tmp_path / 'omniglot')
    write_tiny_omniglot(root)
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(f"""
_base_ = [{config_path!r}]
model = dict(
    backbone=dict(channels=(4, 4), stride=1, pool=True),
    meta_branch=dict(num_ways=3, adapter=dict(test_cfg=dict(num_steps=1)),
                     head=dict(in_channels=16)),
    transfer_branch=dict(head=dict(in_channels=16, num_classes=20)))
data = dict(data_root={root!r}, image_size=8)
train_dataloader = dict(batch_size=2, dataset=dict(
    num_ways=3, num_shots=1, num_queries=1, dataset=data))
val_dataloader = dict(dataset=dict(
    num_ways=3, num_queries=2, num_episodes=3, dataset=data))
test_dataloader = dict(dataset=dict(
    num_ways=3, num_queries=2, num_episodes=4, dataset=data))
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False,
                        begin=0, end=2)]
default_hooks = dict(checkpoint=dict(interval=2))
""")
    return tiny


def test_wheel_packages_configs_and_tools_that_run(wheel_site, tmp_path):
    """What mim runs, without mim: the packaged mmmtl/.mim holds every
    config of model-index.yml and the tools; the packaged tools/train.py
    trains from a packaged config and tools/test.py meta-tests the
    checkpoint, importing the packaged mmmtl."""
    packaged = wheel_site / 'mmmtl' / '.mim'
    index = yaml.safe_load(open(packaged / 'model-index.yml'))
    for model in index['Models']:
        assert osp.isfile(packaged / model['Config']), model['Config']
    # the default model's weights travel with the package
    from mmmtl.apis.model_zoo import DEFAULT_WEIGHTS
    assert osp.isfile(packaged / DEFAULT_WEIGHTS)
    (config_path, ) = glob.glob(str(packaged / 'configs' / '*' / CONFIG))
    tiny = tiny_config(tmp_path, config_path)
    env = dict(os.environ, PYTHONPATH=str(wheel_site), OMP_NUM_THREADS='1')
    found = subprocess.run(
        [sys.executable, '-c', 'import mmmtl; print(mmmtl.__file__)'],
        cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert found.strip() == str(wheel_site / 'mmmtl' / '__init__.py')
    work = str(tmp_path / 'work')
    run = subprocess.run([
        sys.executable, str(packaged / 'tools' / 'train.py'), str(tiny),
        '--work-dir', work
    ], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (best, ) = glob.glob(osp.join(work, 'best_accuracy_mean_iter_2.pth'))
    run = subprocess.run([
        sys.executable, str(packaged / 'tools' / 'test.py'), str(tiny), best,
        '--work-dir', work, '--shots', '1', '2'
    ], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (result, ) = glob.glob(osp.join(work, 'meta_test_*.json'))
    rows = json.load(open(result))['results']
    assert [(r['num_ways'], r['num_shots'], r['num_episodes'])
            for r in rows] == [(3, 1, 4), (3, 2, 4)]


@pytest.mark.skipif(
    not mim_available(),
    reason='openmim is not installed (pip install openmim "setuptools>=77,'
    '<81", see docs/getting_started.md)')
def test_mim_train_and_test_use_the_packaged_configs_and_tools(
        wheel_site, tmp_path):
    site = wheel_site
    packaged = site / 'mmmtl' / '.mim'
    (config_path, ) = glob.glob(str(packaged / 'configs' / '*' / CONFIG))
    tiny = tiny_config(tmp_path, config_path)
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    mim = [sys.executable, '-c', 'from mim.cli import cli; cli()']
    work = str(tmp_path / 'work')
    run = subprocess.run(
        mim + ['train', 'mmmtl', str(tiny), '--work-dir', work],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{packaged / 'tools' / 'train.py'} {tiny}" in run.stdout
    # the printed next command is mim test's, not a path into site-packages
    assert 'meta-test it with:\n  mim test mmmtl ' in run.stdout
    (best, ) = glob.glob(osp.join(work, 'best_accuracy_mean_iter_2.pth'))
    run = subprocess.run(
        mim + ['test', 'mmmtl', str(tiny), '--checkpoint', best,
               '--work-dir', work, '--shots', '1', '2'],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert str(packaged / 'tools' / 'test.py') in run.stdout
    (result, ) = glob.glob(osp.join(work, 'meta_test_*.json'))
    rows = json.load(open(result))['results']
    assert [(r['num_ways'], r['num_shots'], r['num_episodes'])
            for r in rows] == [(3, 1, 4), (3, 2, 4)]
    # a config named without its folder is found among the packaged ones
    # (and handed to train.py, which stops at once on --threads 0)
    run = subprocess.run(
        mim + ['train', 'mmmtl', CONFIG, '--work-dir', work, '--threads',
               '0'],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert f'will use {osp.realpath(config_path)} instead' in run.stdout
    assert '--threads must be >= 1, got 0' in run.stderr
