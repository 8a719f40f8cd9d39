"""TimeBudgetHook: training stops once its iterations have used the budget
(final checkpoint and validation kept), and a resumed run continues the
same budget."""
import math
import os
import os.path as osp
import sys
import types

import pytest
import torch

from conftest import REPO
from mmmtl.engine import TimeBudgetHook
from mmmtl.engine.hooks import time_budget_hook
from mmmtl.utils.checkpoint import load_checkpoint_file

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


def train(root, work, *extra, hook='minutes=0.5', config_lines='', options=()):
    config = osp.join(work + '_config.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n{config_lines}')
        if hook:
            f.write(f"custom_hooks = [dict(type='TimeBudgetHook', {hook})]\n")
    train_tool.main([
        config, '--work-dir', work, *extra, '--cfg-options',
        *tiny_options(root, iters=100), 'train_cfg.val_interval=50',
        'default_hooks.checkpoint.max_keep_ckpts=5', *options
    ])


def checkpoints(work):
    return sorted((f for f in os.listdir(work) if f.startswith('iter_')),
                  key=lambda f: int(f[5:-4]))


def load(work, name):
    return load_checkpoint_file(osp.join(work, name))


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
    state = load_checkpoint_file(osp.join(work, 'iter_6.pth'))
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
    with pytest.raises(ValueError, match='measure_fraction'):
        TimeBudgetHook(minutes=1, measure_fraction=1.0)


FIT = ['--time-budget', '1', '--fit-schedule']
# a cosine over the configured 100 iterations, checkpoints every 50
FIT_CONFIG = ("param_scheduler = [dict(type='CosineAnnealingLR', "
              'by_epoch=False, begin=0, end=100)]\n')
EVERY_50 = ['default_hooks.checkpoint.interval=50']


def test_fit_schedule_stretches_the_schedule_to_the_budget(
        tiny_omniglot, tmp_path, five_seconds_per_iteration):
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    train(
        root, work, *FIT, hook=None, config_lines=FIT_CONFIG, options=EVERY_50)
    # 60 s at 5 s per iteration: measured (5% of the budget, from half of
    # it) between 5 s (iteration 1) and 10 s (iteration 2), so 2 + 50 / 5 =
    # 12 iterations fit: every count of the config is scaled by 12 / 100
    # (validation and checkpoint every 6)
    assert checkpoints(work) == ['iter_6.pth', 'iter_12.pth']
    state = load(work, 'iter_12.pth')
    assert state['message_hub']['runtime_info']['time_budget_iters'] == 12
    cosine = state['param_schedulers'][0]
    assert (cosine['begin'], cosine['end'], cosine['T_max']) == (0, 12, 12)
    # the decay ends with the budget: after 1 step of the 100-step cosine,
    # the steps of the 12-step one (its factors telescope); a scheduler's
    # end is exclusive, so the last iteration runs at step 11 of 12
    base = 1e-3
    lr_1 = base * (1 + math.cos(math.pi / 100)) / 2

    def lr(k):
        return lr_1 * (1 + math.cos(k * math.pi / 12)) / (
            1 + math.cos(math.pi / 12))

    for name, k in (('iter_6.pth', 6), ('iter_12.pth', 11)):
        group = load(work, name)['optimizer']['param_groups'][0]
        assert group['lr'] == pytest.approx(lr(k), abs=1e-12), name
    # resumed at 6, the fitted schedule is kept: it ends at 12 again
    os.remove(osp.join(work, 'iter_12.pth'))
    written = os.stat(osp.join(work, 'iter_6.pth')).st_mtime_ns

    def resume(work_dir, checkpoint):
        train(
            root,
            work_dir,
            '--resume',
            checkpoint,
            *FIT,
            hook=None,
            config_lines=FIT_CONFIG,
            options=EVERY_50)

    resume(work, osp.join(work, 'iter_6.pth'))
    assert checkpoints(work) == ['iter_6.pth', 'iter_12.pth']
    group = load(work, 'iter_12.pth')['optimizer']['param_groups'][0]
    assert group['lr'] == pytest.approx(lr(11), abs=1e-12)
    # it did resume: iteration 6 was not trained (and saved) again
    assert os.stat(osp.join(work, 'iter_6.pth')).st_mtime_ns == written
    # the budget already spent comes from the checkpoint: with 45 s of the
    # 60 s spent (not 30) the resumed run stops after 3 iterations, at 9
    state = load(work, 'iter_6.pth')
    assert state['message_hub']['runtime_info']['time_budget_spent'] == 30
    state['message_hub']['runtime_info']['time_budget_spent'] = 45
    other = str(tmp_path / 'other')
    os.makedirs(other)
    torch.save(state, osp.join(other, 'start.pth'))
    resume(other, osp.join(other, 'start.pth'))
    assert checkpoints(other) == ['iter_9.pth']
    state = load(other, 'iter_9.pth')
    assert state['message_hub']['runtime_info']['time_budget_spent'] == 60


def test_fit_schedule_refuses_a_scheduler_it_cannot_stretch(
        tiny_omniglot, tmp_path):
    root, _ = tiny_omniglot
    exponential = ("param_scheduler = [dict(type='ExponentialLR', "
                   'gamma=0.9, by_epoch=False)]\n')
    with pytest.raises(TypeError, match='not ExponentialLR'):
        train(
            root,
            str(tmp_path / 'work'),
            hook='minutes=1, fit_schedule=True',
            config_lines=exponential)


def test_cpu_clock_counts_process_time_not_wall_time(tiny_omniglot, tmp_path,
                                                     monkeypatch):
    """clock='cpu' reads time.process_time: with the process clock at 5 s per
    reading and a wall clock that never moves, the budget of 30 s ends the
    run after 6 iterations; the wall clock alone would never end it."""
    cpu = iter(range(0, 10**6, 5))
    monkeypatch.setattr(
        time_budget_hook, 'time',
        types.SimpleNamespace(
            perf_counter=lambda: 0.0, process_time=lambda: next(cpu)))
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    train(root, work, hook="minutes=0.5, clock='cpu'")
    assert checkpoints(work) == ['iter_2.pth', 'iter_4.pth', 'iter_6.pth']
    with pytest.raises(ValueError, match="clock must be one of"):
        TimeBudgetHook(minutes=1, clock='gpu')
    # the tool's flag reaches the hook, and needs a budget
    with pytest.raises(SystemExit):
        train_tool.parse_args([CONFIG, '--budget-clock', 'cpu'])
