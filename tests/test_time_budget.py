"""FewShotTrainLoop's time budget: training stops once its iterations have
used the budget (final checkpoint and validation kept), a resumed run
continues the same budget, the schedule is fitted to it, and hard-task
meta-batches are charged to it."""
import math
import os
import os.path as osp
import types
from collections import Counter

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from torch.utils.data import DataLoader

from mmmtl.apis import train as train_tool
from mmmtl.engine import HardTaskHook
from mmmtl.engine.loops import (FewShotTrainLoop, HardTasks, TimeBudget,
                                stretch_loop_counts, stretch_scheduler_counts,
                                time_budget)
from mmmtl.utils.checkpoint import load_checkpoint_file
from test_tools import CONFIG, tiny_options


@pytest.fixture
def five_seconds_per_iteration(monkeypatch):
    """A clock that advances 5 s at every reading: each training iteration
    (one reading before, one after) takes 5 s."""
    clock = iter(range(0, 10**6, 5))
    monkeypatch.setattr(
        time_budget, 'time',
        types.SimpleNamespace(perf_counter=lambda: next(clock)))


def train(root, work, *extra, budget='time_budget=0.5', config_lines='',
          options=()):
    """Train the tiny config for at most 100 iterations; ``budget``: the
    FewShotTrainLoop arguments of the config (None: the command line's)."""
    config = osp.join(work + '_config.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n{config_lines}')
        if budget:
            f.write(f"train_cfg = dict(type='FewShotTrainLoop', {budget})\n")
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
    for minutes in (0, float('nan'), float('inf')):
        with pytest.raises(ValueError, match='minutes must be a finite '
                           f'number > 0, got {minutes}'):
            TimeBudget(minutes=minutes)
    with pytest.raises(ValueError, match='measure_fraction'):
        TimeBudget(minutes=1, measure_fraction=1.0)


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
        root, work, *FIT, budget=None, config_lines=FIT_CONFIG, options=EVERY_50)
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
            budget=None,
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
            budget='time_budget=1, fit_schedule=True',
            config_lines=exponential)


def test_cpu_clock_counts_process_time_not_wall_time(tiny_omniglot, tmp_path,
                                                     monkeypatch):
    """clock='cpu' reads time.process_time: with the process clock at 5 s per
    reading and a wall clock that never moves, the budget of 30 s ends the
    run after 6 iterations; the wall clock alone would never end it."""
    cpu = iter(range(0, 10**6, 5))
    monkeypatch.setattr(
        time_budget, 'time',
        types.SimpleNamespace(
            perf_counter=lambda: 0.0, process_time=lambda: next(cpu)))
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    train(root, work, budget="time_budget=0.5, clock='cpu'")
    assert checkpoints(work) == ['iter_2.pth', 'iter_4.pth', 'iter_6.pth']
    with pytest.raises(ValueError, match="clock must be one of"):
        TimeBudget(minutes=1, clock='gpu')
    # the tool's flag reaches the loop, and needs a budget
    with pytest.raises(SystemExit):
        train_tool.parse_args([CONFIG, '--budget-clock', 'cpu'])


def test_stretch_scheduler_counts_by_hand():
    # a cosine from 10 to 100 fitted to 12 / 100 of its length
    assert stretch_scheduler_counts(dict(begin=10, end=100, T_max=90),
                                    0.12) == dict(begin=1, end=12, T_max=11)
    # milestones keep their factors; an open end stays open; periods >= 1
    assert stretch_scheduler_counts(
        dict(begin=0, end=math.inf, milestones=Counter({30: 1, 60: 2})),
        0.5) == dict(begin=0, end=math.inf,
                     milestones=Counter({15: 1, 30: 2}))
    assert stretch_scheduler_counts(dict(begin=0, end=8000, step_size=1000),
                                    1e-4)['step_size'] == 1
    # linear / poly / constant: total_iters = end - begin - 1
    assert stretch_scheduler_counts(
        dict(begin=0, end=50, total_iters=49),
        0.1) == dict(begin=0, end=5, total_iters=4)


def test_stretch_loop_counts_by_hand():
    new = stretch_loop_counts(
        dict(
            max_iters=100,
            val_interval=50,
            dynamic_milestones=[0, 40],
            dynamic_intervals=[50, 10],
            checkpoint_intervals=[50, 3]), 12)
    assert new == dict(
        max_iters=12,
        val_interval=6,
        dynamic_milestones=[0, 5],
        dynamic_intervals=[6, 1],
        checkpoint_intervals=[6, 1])


def test_fitted_iters_measure_after_half_the_measured_share():
    budget = TimeBudget(minutes=1, fit_schedule=True, measure_fraction=0.1)
    # 6 s are measured, from 3 s on: at 2 s nothing, at 4 s the window
    # opens, at 6 s (2 iterations later, 1 s each) 5 + 54 / 1 fit
    assert budget.fitted_iters(1, 2.0) is None
    assert budget.fitted_iters(3, 4.0) is None
    assert budget.fitted_iters(5, 6.0) == 59
    assert budget.seconds_per_iter(5, 6.0) == 1.0


class CountedSteps:
    """A model whose train steps (regular or hard-task) each take 5 s of
    the patched clock; ``steps`` records which batches were trained."""

    def __init__(self):
        self.steps = []

    def train(self):
        pass

    def train_step(self, batch, optim_wrapper=None):
        self.steps.append(batch)
        return {}


class StubHardTasks(HardTasks):
    """HardTasks whose meta-batch is the string 'hard' (no dataset)."""

    def train(self, runner):
        return runner.model.train_step('hard')


def budget_loop(monkeypatch, interval=None):
    model = CountedSteps()
    monkeypatch.setattr(
        time_budget, 'time',
        types.SimpleNamespace(perf_counter=lambda: 5.0 * len(model.steps)))
    logger = types.SimpleNamespace(messages=[])
    logger.info = logger.messages.append
    runner = types.SimpleNamespace(
        model=model,
        optim_wrapper=None,
        call_hook=lambda *args, **kwargs: None,
        message_hub=MessageHub.get_instance(f'budget_loop_{interval}'),
        logger=logger,
        param_schedulers=[],
        hooks=[],
        val_loop=None)
    loop = FewShotTrainLoop(
        runner,
        DataLoader([torch.zeros(1)] * 4, batch_size=1),
        max_iters=100,
        time_budget=0.5)
    if interval:
        loop.hard_tasks = StubHardTasks(interval=interval)
    loop.run()
    return loop, model.steps, logger.messages


def test_hard_task_meta_batches_are_charged_to_the_budget(monkeypatch):
    # 30 s, 5 s per train step: 6 plain iterations
    loop, steps, _ = budget_loop(monkeypatch)
    assert loop.iter == 6 and 'hard' not in steps
    # a hard-task step after every iteration: 10 s each, 3 iterations, each
    # one's hard task right after its own meta-batch
    loop, steps, messages = budget_loop(monkeypatch, interval=1)
    assert loop.iter == loop.max_iters == 3
    assert [s == 'hard' for s in steps] == [False, True] * 3
    assert 'reached after 3 iterations' in messages[-1]
    # after every 2nd: 5, 15, 20, 30 s
    loop, steps, _ = budget_loop(monkeypatch, interval=2)
    assert loop.iter == 4
    assert [s == 'hard' for s in steps] == [False, False, True] * 2


def test_hard_task_hook_sets_the_loops_hard_tasks():
    with pytest.raises(TypeError, match="train_cfg.type='FewShotTrainLoop'"):
        HardTaskHook().before_train(
            types.SimpleNamespace(train_loop=object()))
    with pytest.raises(ValueError, match='interval must be >= 1'):
        HardTaskHook(interval=0)


def test_time_budget_option_makes_the_loop_a_budgeted_one():
    cfg = Config(dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=9)))
    train_tool.set_time_budget(cfg, 2.5, True, 'cpu')
    assert cfg.train_cfg == dict(
        type='FewShotTrainLoop',
        max_iters=9,
        time_budget=2.5,
        fit_schedule=True,
        clock='cpu')
    epochs = Config(dict(train_cfg=dict(type='EpochBasedTrainLoop')))
    with pytest.raises(TypeError, match='iteration-based train loop'):
        train_tool.set_time_budget(epochs, 1, False, 'wall')
