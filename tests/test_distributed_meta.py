"""2 CPU ranks (torchrun, gloo) with per-rank meta-batch T update exactly
as 1 rank with meta-batch 2T (episodes split across ranks, meta-gradients /
Reptile updates / MTL's weighted updates averaged)."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import free_port


def load_checkpoint(path):
    """A full mmengine checkpoint written by this test (weights-only,
    mmmtl's allow-list)."""
    from mmmtl.utils.checkpoint import load_checkpoint_file
    return load_checkpoint_file(path, map_location='cpu')


REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(
    maml='configs/maml/maml_conv4_1xb32_omniglot_5way-1shot.py',
    reptile='configs/reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py',
    mtl='configs/mtl/mtl-maml_conv4_1xb32_omniglot_5way-1shot.py')
# MTL's transfer branch normalises the whole meta-batch of a rank at once:
# with batch-norm statistics, T images per rank are not 2T in one process.
# Its test uses a backbone without batch norm (a user's, by custom_imports).
NO_NORM_NET = """
import torch.nn as nn

from mmmtl.registry import MODELS


@MODELS.register_module()
class NoNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x).relu().flatten(1)
"""


def tiny_config(path, method, data_root, meta_batch):
    """A tiny version of the method's Omniglot config: 3-way 1-shot on the
    generated Omniglot at 8x8, two-block Conv4, 3 small SGD meta-steps (so
    that float rounding is not amplified). MTL: NO_NORM_NET's 64
    features (written next to the config), its transfer head over the 20
    training classes of the generated Omniglot."""
    model = """model = dict(
    backbone=dict(channels=(4, 4), stride=1, pool=True),
    head=dict(in_channels=16), num_ways=3,
    adapter=dict(lr=0.4, test_cfg=dict(num_steps=1)))"""
    if method == 'mtl':
        with open(osp.join(osp.dirname(path), 'no_norm_net.py'), 'w') as f:
            f.write(NO_NORM_NET)
        model = """custom_imports = dict(imports=['no_norm_net'])
model = dict(
    backbone=dict(_delete_=True, type='NoNormNet'),
    meta_branch=dict(head=dict(in_channels=64), num_ways=3,
                     adapter=dict(lr=0.4, test_cfg=dict(num_steps=1))),
    transfer_branch=dict(head=dict(in_channels=64, num_classes=20)))"""
    text = f"""
_base_ = [{osp.join(REPO, CONFIGS[method])!r}]
{model}
train_dataloader = dict(
    batch_size={meta_batch},
    dataset=dict(num_ways=3, num_shots=1, num_queries={0 if method ==
                                                      'reptile' else 1},
                 dataset=dict(data_root={data_root!r}, image_size=8)))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
# float32: bfloat16 (the configs' default where native) rounds one rank's
# half batch otherwise than the whole batch
optim_wrapper = dict(
    precision='float32', optimizer=dict(_delete_=True, type='SGD', lr=0.05))
param_scheduler = []
train_cfg = dict(max_iters=3, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=3, save_best=None))
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def run_train(config, work_dir, nproc, *options, pythonpath=()):
    """tools/train.py on ``nproc`` CPU ranks (torchrun from 2); asserts it
    exits 0."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([REPO, *pythonpath]))
    with free_port() as port:
        if nproc == 1:
            cmd = [sys.executable, osp.join(REPO, 'tools/train.py')]
        else:
            cmd = [
                sys.executable, '-m', 'torch.distributed.run',
                f'--nproc_per_node={nproc}', f'--master_port={port}',
                osp.join(REPO, 'tools/train.py')
            ]
        cmd += [config, '--work-dir', str(work_dir), *options]
        if nproc > 1:
            cmd += ['--launcher', 'pytorch']
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def train(config, work_dir, nproc):
    run_train(config, work_dir, nproc, pythonpath=[osp.dirname(config)])
    return load_checkpoint(str(work_dir / 'iter_3.pth'))


def test_free_port_is_held_until_torchrun_binds_it():
    """free_port keeps its port from every other bind (a run asking for a
    free port, or for this one) for the block, while a TCPStore (what
    torchrun's rendezvous listens with) binds it."""
    import datetime
    import socket

    import torch.distributed as dist
    with free_port() as port:
        with socket.socket() as other:
            with pytest.raises(OSError):
                other.bind(('127.0.0.1', port))
        store = dist.TCPStore('127.0.0.1', port, 1, True,
                              timeout=datetime.timedelta(seconds=30))
        store.set('key', 'value')
        assert store.get('key') == b'value'
        del store


@pytest.mark.parametrize('method', ['maml', 'reptile', 'mtl'])
def test_two_ranks_equal_one_rank_with_double_meta_batch(
        method, tiny_omniglot, tmp_path):
    data_root, _ = tiny_omniglot
    one = train(
        tiny_config(tmp_path / 'one.py', method, data_root, 4),
        tmp_path / 'one', 1)
    two = train(
        tiny_config(tmp_path / 'two.py', method, data_root, 2),
        tmp_path / 'two', 2)
    assert one['meta']['iter'] == two['meta']['iter'] == 3
    # the environment header says what ran: gloo, two processes (no GPUs)
    (log, ) = glob.glob(str(tmp_path / 'two' / '*' / '*.log'))
    header = open(log).read().split('Config:')[0]
    assert "dist_cfg: {'backend': 'gloo'}" in header
    assert 'distributed backend: gloo' in header
    assert 'processes: 2' in header and 'GPU number' not in header
    assert one['state_dict'].keys() == two['state_dict'].keys()
    for name, value in one['state_dict'].items():
        assert torch.allclose(value, two['state_dict'][name], rtol=1e-5,
                              atol=1e-6), name


RANK_CLOCKS = """
import os
import types

from mmmtl.engine.loops import time_budget

# rank 0's iterations take 5 s, rank 1's 7 s
_clock = iter(range(0, 10**6, 5 if os.environ['RANK'] == '0' else 7))
time_budget.time = types.SimpleNamespace(
    perf_counter=lambda: next(_clock))
"""


def test_time_budget_ranks_stop_together_on_rank0_clock(
        tiny_omniglot, tmp_path):
    """Ranks whose clocks disagree fit the schedule and stop at the same
    iteration, rank 0's (were each to follow its own clock, rank 1 would
    stop first and leave rank 0 waiting in its gradient all-reduce)."""
    data_root, _ = tiny_omniglot
    (tmp_path / 'rank_clocks.py').write_text(RANK_CLOCKS)
    config = tiny_config(tmp_path / 'budget.py', 'maml', data_root, 2)
    with open(config, 'a') as f:
        f.write("custom_imports = dict(imports=['rank_clocks'])\n"
                'train_cfg = dict(max_iters=100)\n'
                'default_hooks = dict(checkpoint=dict(interval=50))\n')
    work = tmp_path / 'work'
    run_train(config, work, 2, '--time-budget', '1', '--fit-schedule',
              pythonpath=[str(tmp_path)])
    # 60 s at rank 0's 5 s per iteration: 12 iterations (checkpoints every
    # 50 * 12 / 100 = 6); rank 1's clock alone would give 8
    assert sorted(p.name for p in work.glob('iter_*.pth')) == [
        'iter_12.pth', 'iter_6.pth'
    ]
    state = load_checkpoint(str(work / 'iter_12.pth'))
    assert state['message_hub']['runtime_info']['time_budget_spent'] == 60
