"""Train for a fixed wall-clock budget instead of a fixed iteration count."""
import math
import time
from collections import Counter
from typing import List, Optional

import torch
from mmengine.dist import broadcast, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.optim.scheduler import (ConstantParamScheduler,
                                      CosineAnnealingParamScheduler,
                                      LinearParamScheduler,
                                      MultiStepParamScheduler,
                                      PolyParamScheduler, StepParamScheduler)
from mmengine.runner import IterBasedTrainLoop

from mmmtl.registry import HOOKS

# schedulers (and their LR / momentum variants) whose shape is set by
# iteration counts alone: begin / end plus these attributes (total_iters of
# the linear / poly / constant ones follows from begin and end, as in their
# __init__). Not exponential ones: their shape is in gamma per step.
ITERATION_ATTRIBUTES = {
    CosineAnnealingParamScheduler: ('T_max', ),
    StepParamScheduler: ('step_size', ),
    MultiStepParamScheduler: ('milestones', ),
    LinearParamScheduler: (),
    ConstantParamScheduler: (),
    PolyParamScheduler: (),
}


# clock name -> the function of the time module that reads it
CLOCKS = {'wall': 'perf_counter', 'cpu': 'process_time'}


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """End an iteration-based training run once its training iterations have
    taken ``minutes`` of wall time, or of this process's CPU time
    (validation and checkpointing not counted), so that methods with
    different costs per iteration can be compared on the same budget.

    The CPU clock (``clock='cpu'``, ``time.process_time``: the CPU seconds
    of all of the process's threads) keeps a budget fair when other jobs
    share the machine: a run slowed by a neighbour waits longer but computes
    as much. With one thread per run it is the wall time of an idle
    machine; with N busy threads a CPU minute passes in 1/N wall minute.

    The run ends as if ``max_iters`` were the current iteration: the final
    validation and the last checkpoint follow as usual. The time spent is
    kept in the message hub, which checkpoints save, so a resumed run
    continues the same budget. In distributed training rank 0's clock
    decides for all ranks.

    With ``fit_schedule=True`` the config's iteration counts describe the
    *shape* of the run: once ``measure_fraction`` of the budget is spent,
    the hook estimates from the iterations since half that point how many
    iterations fit in the budget, N, and rescales ``max_iters``,
    ``val_interval``, the checkpoint interval and every parameter
    scheduler's ``begin`` / ``end`` / period by ``N / max_iters``, so that
    e.g. a cosine decay ends with the budget rather than being cut off (or
    never reached). The rescaled schedule is saved in checkpoints and kept
    on resume. Without it, schedulers keep their configured length.

    Args:
        minutes: the training-time budget.
        fit_schedule: rescale the schedule to the budget (see above).
        measure_fraction: share of the budget measured before fitting.
        clock: ``'wall'`` (``time.perf_counter``) or ``'cpu'``
            (``time.process_time``, see above).
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook decides on the last

    def __init__(self,
                 minutes: float,
                 fit_schedule: bool = False,
                 measure_fraction: float = 0.05,
                 clock: str = 'wall') -> None:
        if minutes <= 0:
            raise ValueError(f'TimeBudgetHook: minutes must be > 0, got '
                             f'{minutes}')
        if not 0 < measure_fraction < 1:
            raise ValueError('TimeBudgetHook: measure_fraction must be in '
                             f'(0, 1), got {measure_fraction}')
        if clock not in CLOCKS:
            raise ValueError(f'TimeBudgetHook: clock must be one of '
                             f'{sorted(CLOCKS)}, got {clock!r}')
        self.budget = minutes * 60.0
        self.clock = clock
        self.fit_schedule = fit_schedule
        self.measure_fraction = measure_fraction
        self._start = 0.0
        self._window: Optional[tuple] = None  # (iterations, seconds)

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError('TimeBudgetHook needs an IterBasedTrainLoop, got '
                            f'{type(runner.train_loop).__name__}')
        hub = runner.message_hub
        if runner.iter == 0:
            # a fresh run; mmengine shares a message hub between runners made
            # in the same second of one process, so clear what another left
            hub.update_info('time_budget_spent', 0.0)
            hub.update_info('time_budget_iters', None)
        if not self.fit_schedule:
            return
        for scheduler in _schedulers(runner):
            if scheduler.by_epoch or not isinstance(
                    scheduler, tuple(ITERATION_ATTRIBUTES)):
                raise TypeError(
                    'TimeBudgetHook(fit_schedule=True) rescales iteration-'
                    'based cosine, step, multi-step, linear, constant and '
                    f'poly schedulers, not {type(scheduler).__name__}'
                    f'(by_epoch={scheduler.by_epoch})')
        fitted = hub.get_info('time_budget_iters')
        if fitted is not None:  # resumed: schedulers come from the ckpt
            self._rescale_loop(runner, fitted)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self._start = self._now()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        hub = runner.message_hub
        elapsed = _rank0(self._now() - self._start)
        spent = hub.get_info('time_budget_spent', 0.0) + elapsed
        hub.update_info('time_budget_spent', spent)
        done = runner.iter + 1
        if self.fit_schedule and hub.get_info('time_budget_iters') is None:
            self._measure(runner, done, spent)
        if spent >= self.budget and done < runner.max_iters:
            # IterBasedTrainLoop has no public setter; ending the loop here
            # (rather than by stop_training) keeps its final validation and
            # lets CheckpointHook save this iteration as the last one.
            runner.train_loop._max_iters = done
            runner.logger.info(
                f'time budget of {self.budget / 60:g} {self.clock} min '
                f'reached after {done} iterations: final validation and '
                'checkpoint follow')

    def _now(self) -> float:
        # looked up at each reading (tests replace the module's clocks)
        return getattr(time, CLOCKS[self.clock])()

    def _measure(self, runner, done: int, spent: float) -> None:
        """Time the iterations between half of ``measure_fraction`` of the
        budget and all of it (past the first iterations' warm-up), then fit
        the schedule to the iterations the rest of the budget holds."""
        measured = self.measure_fraction * self.budget
        if self._window is None:
            if spent >= measured / 2:
                self._window = (done, spent)
            return
        first_done, first_spent = self._window
        if spent < measured or done == first_done:
            return
        per_iter = (spent - first_spent) / (done - first_done)
        fitted = done + max(1, math.floor((self.budget - spent) / per_iter))
        configured = runner.max_iters
        runner.message_hub.update_info('time_budget_iters', fitted)
        scale = fitted / configured
        for scheduler in _schedulers(runner):
            _rescale_scheduler(scheduler, scale)
        self._rescale_loop(runner, fitted)
        runner.logger.info(
            f'time budget: {per_iter:.3f} s per iteration, so {fitted} '
            f'iterations fit in {self.budget / 60:g} {self.clock} min: '
            f'max_iters {configured} -> {fitted}, schedule, validation and '
            f'checkpoint intervals scaled by {scale:.4g}')

    @staticmethod
    def _rescale_loop(runner, fitted: int) -> None:
        """Set the configured loop to ``fitted`` iterations, its validation
        and checkpoint intervals in proportion."""
        loop = runner.train_loop
        scale = fitted / loop.max_iters
        # the loop re-reads val_interval from its dynamic intervals
        loop.dynamic_milestones = [
            round(m * scale) for m in loop.dynamic_milestones
        ]
        loop.dynamic_intervals = [
            _scaled(i, scale) for i in loop.dynamic_intervals
        ]
        loop.val_interval = _scaled(loop.val_interval, scale)
        loop._max_iters = fitted  # no public setter (see after_train_iter)
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                hook.interval = _scaled(hook.interval, scale)


def _rank0(seconds: float) -> float:
    """Rank 0's value on every rank: distributed ranks must fit the schedule
    and stop at the same iteration, so rank 0's clock decides."""
    if get_world_size() == 1:
        return seconds
    value = torch.tensor([seconds], dtype=torch.float64)
    broadcast(value, src=0)
    return value.item()


def _schedulers(runner) -> List:
    schedulers = runner.param_schedulers or []
    if isinstance(schedulers, dict):  # one list per optimizer
        return [s for group in schedulers.values() for s in group]
    return list(schedulers)


def _scaled(iterations: int, scale: float) -> int:
    return max(1, round(iterations * scale))


def _rescale_scheduler(scheduler, scale: float) -> None:
    """Stretch one scheduler's iteration counts by ``scale`` (its value
    formulas are recursive in the step, so the values continue smoothly)."""
    scheduler.begin = round(scheduler.begin * scale)
    if math.isfinite(scheduler.end):
        scheduler.end = _scaled(scheduler.end, scale)
    if hasattr(scheduler, 'total_iters'):
        scheduler.total_iters = scheduler.end - scheduler.begin - 1
    for cls, attributes in ITERATION_ATTRIBUTES.items():
        if not isinstance(scheduler, cls):
            continue
        for attribute in attributes:
            value = getattr(scheduler, attribute)
            if isinstance(value, Counter):
                value = Counter({
                    _scaled(k, scale): v
                    for k, v in value.items()
                })
            else:
                value = _scaled(value, scale)
            setattr(scheduler, attribute, value)
