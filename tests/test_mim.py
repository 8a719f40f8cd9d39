"""openmim: `mim train mmmtl CONFIG` and `mim test mmmtl CONFIG --checkpoint
CKPT` on a regular (wheel) install, whose mmmtl/.mim holds the configs and
tools. Skipped where openmim is not installed (it is not a dependency:
docs/getting_started.md says how to add it)."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO, write_tiny_omniglot

CONFIG = 'mtl-maml_conv4_1xb8_omniglot_5way-1shot.py'


def mim_available():
    try:
        import mim  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not mim_available(),
    reason='openmim is not installed (pip install openmim "setuptools>=77,'
    '<81", see docs/getting_started.md)')


def test_mim_train_and_test_use_the_packaged_configs_and_tools(tmp_path):
    # a wheel of this tree, installed into its own folder that comes first
    # on the path: mim finds mmmtl there, not in the editable checkout
    run = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', REPO, '--no-deps',
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
    packaged = site / 'mmmtl' / '.mim'
    (config_path, ) = glob.glob(str(packaged / 'configs' / '*' / CONFIG))
    assert osp.isfile(packaged / 'tools' / 'train.py')
    assert osp.isfile(packaged / 'model-index.yml')

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
