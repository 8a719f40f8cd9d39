"""TimeBudgetHook: training stops once its iterations have used the budget
(final checkpoint and validation kept), and a resumed run continues the
same budget."""
import os
import os.path as osp
import sys
import types

import pytest
import torch

from conftest import REPO
from mmmtl.engine import TimeBudgetHook
from mmmtl.engine.hooks import time_budget_hook

sys.path.insert(0, osp.join(REPO, 'tools'))
import train as train_tool  # noqa: E402
from test_tools import CONFIG, tiny_options  # noqa: E402


@pytest.fixture
def five_seconds_per_iteration(monkeypatch):
    """A clock that advances 5 s at every reading: each training iteration
    (one reading before, one after) takes 5 s."""
    clock = iter(range(0, 10**6, 5))
    monkeypatch.setattr(
        time_budget_hook, 'time',
        types.SimpleNamespace(perf_counter=lambda: next(clock)))


def train(root, work, *extra):
    config = osp.join(work + '_config.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n'
                "custom_hooks = [dict(type='TimeBudgetHook', minutes=0.5)]\n")
    train_tool.main([
        config, '--work-dir', work, *extra, '--cfg-options',
        *tiny_options(root, iters=100), 'train_cfg.val_interval=50',
        'default_hooks.checkpoint.max_keep_ckpts=5'
    ])


def test_stops_at_the_budget_and_resumes_within_it(tiny_omniglot, tmp_path,
                                                   five_seconds_per_iteration):
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    train(root, work)
    # 30 s at 5 s per iteration: 6 iterations, then the final checkpoint and
    # validation (the best checkpoint comes from it)
    assert sorted(f for f in os.listdir(work) if f.startswith('iter_')) == [
        'iter_2.pth', 'iter_4.pth', 'iter_6.pth'
    ]
    assert osp.isfile(osp.join(work, 'best_accuracy_mean_iter_6.pth'))
    state = torch.load(
        osp.join(work, 'iter_6.pth'), map_location='cpu', weights_only=False)
    assert state['message_hub']['runtime_info']['time_budget_spent'] == 30
    # resumed from iteration 4 (20 s spent), it stops at 6 again, not at 10
    os.remove(osp.join(work, 'iter_6.pth'))
    before = {
        f: os.stat(osp.join(work, f)).st_mtime_ns
        for f in ('iter_2.pth', 'iter_4.pth')
    }
    train(root, work, '--resume', osp.join(work, 'iter_4.pth'))
    assert osp.isfile(osp.join(work, 'iter_6.pth'))
    assert not osp.isfile(osp.join(work, 'iter_8.pth'))
    # it did resume (a fresh run would have rewritten iterations 2 and 4)
    assert before == {
        f: os.stat(osp.join(work, f)).st_mtime_ns
        for f in before
    }


def test_bad_budget_is_named():
    with pytest.raises(ValueError, match='minutes must be > 0'):
        TimeBudgetHook(minutes=0)
