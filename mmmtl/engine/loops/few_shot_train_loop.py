"""mmmtl's iteration-based train loop: an optional time budget (with the
schedule fitted to it) and interleaved hard-task meta-batches."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.hooks import CheckpointHook
from mmengine.runner import IterBasedTrainLoop
from torch.utils.data import DataLoader

from mmmtl.registry import LOOPS
from .hard_tasks import HardTasks
from .schedule_stretch import (check_stretchable, scheduler_counts,
                               stretch_loop_counts, stretch_scheduler_counts)
from .time_budget import TimeBudget, rank0


@LOOPS.register_module()
class FewShotTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop``, plus:

    - ``time_budget`` (minutes): the run ends once its training iterations
      (the train steps and their ``before_train_iter`` hooks, hard tasks
      included; not validation or checkpointing) have taken that long on
      ``clock`` ('wall' or 'cpu', see :class:`TimeBudget`), as if
      ``max_iters`` were the current iteration: the final validation and
      the last checkpoint follow as usual. The time spent is kept in the
      message hub (``time_budget_spent``), which checkpoints save, so a
      resumed run continues the same budget. In distributed training rank
      0's clock decides for all ranks.
    - ``fit_schedule``: the configured iteration counts are the *shape* of
      the run. Once ``measure_fraction`` of the budget is spent, the loop
      estimates how many iterations fit, N (``time_budget_iters`` in the
      message hub), and rescales ``max_iters``, the validation intervals,
      the iteration-based checkpoint interval and every parameter
      scheduler's ``begin`` / ``end`` / period by ``N / max_iters``, so that
      e.g. a cosine decay ends with the budget. Schedulers it cannot stretch
      are refused before training. The fitted schedule is kept on resume.
    - ``hard_tasks`` (public, set by :class:`HardTaskHook`): a
      :class:`HardTasks` whose meta-batches are trained inside the
      iteration that they follow, before its ``after_train_iter`` hooks.

    Without a budget and hard tasks it is ``IterBasedTrainLoop``.
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            max_iters: int,
            val_begin: int = 1,
            val_interval: int = 1000,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
            time_budget: Optional[float] = None,
            fit_schedule: bool = False,
            measure_fraction: float = 0.05,
            clock: str = 'wall') -> None:
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval, dynamic_intervals)
        if time_budget is None and (fit_schedule or clock != 'wall'):
            raise ValueError('FewShotTrainLoop: fit_schedule and clock need '
                             'a time_budget')
        self.budget = None if time_budget is None else TimeBudget(
            time_budget, fit_schedule, measure_fraction, clock)
        self.hard_tasks: Optional[HardTasks] = None

    def run(self):
        if self.budget is not None:
            self._start_budget()
        return super().run()

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        budget = self.budget
        start = budget.now() if budget is not None else 0.0
        self.runner.call_hook(
            'before_train_iter', batch_idx=self.iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        if self.hard_tasks is not None and self.hard_tasks.due(self.iter):
            self.hard_tasks.train(self.runner)
        if budget is not None:
            self._charge(rank0(budget.now() - start))
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=self.iter,
            data_batch=data_batch,
            outputs=outputs)
        # the step count mmengine's own run_iter advances (``iter`` is a
        # read-only property)
        self._iter += 1

    def _start_budget(self) -> None:
        """Reset the budget of a fresh run, check the schedulers, and keep a
        resumed run's fitted schedule."""
        hub = self.runner.message_hub
        if self.iter == 0:
            # a fresh run; mmengine shares a message hub between runners made
            # in the same second of one process, so clear what another left
            hub.update_info('time_budget_spent', 0.0)
            hub.update_info('time_budget_iters', None)
        if not self.budget.fit_schedule:
            return
        for scheduler in self._schedulers():
            check_stretchable(scheduler)
        fitted = hub.get_info('time_budget_iters')
        if fitted is not None:  # resumed: schedulers come from the ckpt
            self._fit_loop(fitted)

    def _charge(self, elapsed: float) -> None:
        """Add one iteration's time; fit the schedule once it is measured,
        end the run when the budget is spent."""
        hub = self.runner.message_hub
        spent = hub.get_info('time_budget_spent', 0.0) + elapsed
        hub.update_info('time_budget_spent', spent)
        done = self.iter + 1
        if self.budget.fit_schedule and hub.get_info(
                'time_budget_iters') is None:
            fitted = self.budget.fitted_iters(done, spent)
            if fitted is not None:
                self._fit(fitted, self.budget.seconds_per_iter(done, spent))
        if spent >= self.budget.seconds and done < self.max_iters:
            # ending here, before the after_train_iter hooks, keeps the final
            # validation and lets CheckpointHook save this iteration as the
            # last one (``max_iters`` is a read-only property of
            # IterBasedTrainLoop: this subclass sets the attribute behind it)
            self._max_iters = done
            self.runner.logger.info(
                f'time budget of {self.budget.describe()} reached after '
                f'{done} iterations: final validation and checkpoint follow')

    def _fit(self, fitted: int, per_iter: float) -> None:
        configured = self.max_iters
        self.runner.message_hub.update_info('time_budget_iters', fitted)
        scale = fitted / configured
        for scheduler in self._schedulers():
            for name, value in stretch_scheduler_counts(
                    scheduler_counts(scheduler), scale).items():
                setattr(scheduler, name, value)
        self._fit_loop(fitted)
        self.runner.logger.info(
            f'time budget: {per_iter:.3f} s per iteration, so {fitted} '
            f'iterations fit in {self.budget.describe()}: max_iters '
            f'{configured} -> {fitted}, schedule, validation and checkpoint '
            f'intervals scaled by {scale:.4g}')

    def _fit_loop(self, fitted: int) -> None:
        """Set the loop to ``fitted`` iterations, its validation and
        checkpoint intervals in proportion."""
        hooks = [
            hook for hook in self.runner.hooks
            if isinstance(hook, CheckpointHook) and not hook.by_epoch
        ]
        new = stretch_loop_counts(
            dict(
                max_iters=self.max_iters,
                val_interval=self.val_interval,
                dynamic_milestones=self.dynamic_milestones,
                dynamic_intervals=self.dynamic_intervals,
                checkpoint_intervals=[hook.interval for hook in hooks]),
            fitted)
        # behind the read-only ``max_iters`` property (see _charge)
        self._max_iters = new['max_iters']
        self.val_interval = new['val_interval']
        self.dynamic_milestones = new['dynamic_milestones']
        self.dynamic_intervals = new['dynamic_intervals']
        for hook, interval in zip(hooks, new['checkpoint_intervals']):
            hook.interval = interval

    def _schedulers(self) -> list:
        schedulers = self.runner.param_schedulers or []
        if isinstance(schedulers, dict):  # one list per optimizer
            return [s for group in schedulers.values() for s in group]
        return list(schedulers)
