"""Progress of a meta-test over several (ways, shots) cells, with ETA."""
import datetime
import time
from typing import Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmmtl.registry import HOOKS


def format_seconds(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(round(seconds))))


@HOOKS.register_module()
class MetaTestProgressHook(Hook):
    """Log ``[cell i/n] W-way K-shot: episode k/E, ETA cell h:mm:ss, all
    ~h:mm:ss`` while a :class:`MetaTestLoop` meta-tests its (ways, shots)
    cells (one test epoch each; n is the loop's number of settings, 1 for
    another test loop).

    The cell's ETA extrapolates its own speed; the overall one assumes that
    the cells still to come take as long per episode as the cells so far,
    which is rough when they differ in ways or shots. Episodes are counted
    over all ranks.

    Args:
        interval: log every ``interval`` test batches (and the last one).
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50) -> None:
        if interval < 1:
            raise ValueError(f'MetaTestProgressHook: interval must be >= 1, '
                             f'got {interval}')
        self.interval = interval
        self.num_cells = 1
        self.cell = 0
        self.done_episodes = 0  # in the finished cells
        self.done_seconds = 0.0
        self._start: Optional[float] = None

    def before_test(self, runner) -> None:
        self.num_cells = len(getattr(runner.test_loop, 'settings', [None]))
        self.cell = 0
        self.done_episodes = 0
        self.done_seconds = 0.0

    def before_test_epoch(self, runner) -> None:
        self.cell += 1
        self._start = time.perf_counter()

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs=None) -> None:
        loader = runner.test_dataloader
        batches = len(loader)
        if not (self.every_n_inner_iters(batch_idx, self.interval)
                or batch_idx + 1 == batches):
            return
        dataset = loader.dataset
        total = len(dataset)
        done = min(total, (batch_idx + 1) * loader.batch_size *
                   get_world_size())
        elapsed = time.perf_counter() - self._start
        per_episode = elapsed / done
        cell_left = per_episode * (total - done)
        if self.done_episodes:
            per_episode = ((self.done_seconds + elapsed) /
                           (self.done_episodes + done))
        all_left = cell_left + per_episode * total * (
            self.num_cells - min(self.cell, self.num_cells))
        runner.logger.info(
            f'[cell {self.cell}/{self.num_cells}] {dataset.num_ways}-way '
            f'{dataset.num_shots}-shot: episode {done}/{total}, ETA cell '
            f'{format_seconds(cell_left)}, all ~{format_seconds(all_left)}')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.done_episodes += len(runner.test_dataloader.dataset)
        self.done_seconds += time.perf_counter() - self._start
