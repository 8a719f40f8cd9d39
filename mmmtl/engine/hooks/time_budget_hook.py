"""Train for a fixed wall-clock budget instead of a fixed iteration count."""
import time

from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from mmmtl.registry import HOOKS


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """End an iteration-based training run once its training iterations have
    taken ``minutes`` of wall time (validation and checkpointing not
    counted), so that methods with different costs per iteration can be
    compared on the same budget.

    The run ends as if ``max_iters`` were the current iteration: the final
    validation and the last checkpoint follow as usual. The time spent is
    kept in the message hub, which checkpoints save, so a resumed run
    continues the same budget. Schedulers keep their configured length.

    Args:
        minutes: the training-time budget.
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook decides on the last

    def __init__(self, minutes: float) -> None:
        if minutes <= 0:
            raise ValueError(f'TimeBudgetHook: minutes must be > 0, got '
                             f'{minutes}')
        self.budget = minutes * 60.0
        self._start = 0.0

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError('TimeBudgetHook needs an IterBasedTrainLoop, got '
                            f'{type(runner.train_loop).__name__}')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        hub = runner.message_hub
        spent = hub.get_info('time_budget_spent', 0.0) + (
            time.perf_counter() - self._start)
        hub.update_info('time_budget_spent', spent)
        if spent >= self.budget and runner.iter + 1 < runner.max_iters:
            # IterBasedTrainLoop has no public setter; ending the loop here
            # (rather than by stop_training) keeps its final validation and
            # lets CheckpointHook save this iteration as the last one.
            runner.train_loop._max_iters = runner.iter + 1
            runner.logger.info(
                f'time budget of {self.budget / 60:g} min reached after '
                f'{runner.iter + 1} iterations: final validation and '
                'checkpoint follow')
