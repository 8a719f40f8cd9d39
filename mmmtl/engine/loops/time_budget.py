"""A training-time budget: its clock and the estimate of how many
iterations fit in it."""
import math
import time
from typing import Optional

import torch
from mmengine.dist import broadcast, get_world_size

# clock name -> the function of the time module that reads it
CLOCKS = {'wall': 'perf_counter', 'cpu': 'process_time'}


class TimeBudget:
    """``minutes`` of training time on the ``'wall'`` clock
    (``time.perf_counter``) or the ``'cpu'`` clock (``time.process_time``:
    the CPU seconds of all of the process's threads, fair when other jobs
    share the machine; with one thread per run it is the wall time of an
    idle machine, with N busy threads a CPU minute passes in 1/N wall
    minute).

    With ``fit_schedule``, :meth:`fitted_iters` times the iterations between
    half of ``measure_fraction`` of the budget and all of it (past the first
    iterations' warm-up) and returns how many iterations the whole budget
    holds.
    """

    def __init__(self,
                 minutes: float,
                 fit_schedule: bool = False,
                 measure_fraction: float = 0.05,
                 clock: str = 'wall') -> None:
        if not (math.isfinite(minutes) and minutes > 0):
            raise ValueError(f'time budget: minutes must be a finite number '
                             f'> 0, got {minutes}')
        if not 0 < measure_fraction < 1:
            raise ValueError('time budget: measure_fraction must be in '
                             f'(0, 1), got {measure_fraction}')
        if clock not in CLOCKS:
            raise ValueError(f'time budget: clock must be one of '
                             f'{sorted(CLOCKS)}, got {clock!r}')
        self.seconds = minutes * 60.0
        self.fit_schedule = fit_schedule
        self.measure_fraction = measure_fraction
        self.clock = clock
        self.window: Optional[tuple] = None  # (iterations, seconds)

    def now(self) -> float:
        # looked up at each reading (tests replace the module's clocks)
        return getattr(time, CLOCKS[self.clock])()

    def describe(self) -> str:
        return f'{self.seconds / 60:g} {self.clock} min'

    def fitted_iters(self, done: int, spent: float) -> Optional[int]:
        """After ``done`` iterations in ``spent`` seconds: the iterations
        that fit in the budget once the measurement is complete, else
        None."""
        measured = self.measure_fraction * self.seconds
        if self.window is None:
            if spent >= measured / 2:
                self.window = (done, spent)
            return None
        first_done, first_spent = self.window
        if spent < measured or done == first_done:
            return None
        per_iter = (spent - first_spent) / (done - first_done)
        return done + max(1, math.floor((self.seconds - spent) / per_iter))

    def seconds_per_iter(self, done: int, spent: float) -> float:
        """The speed :meth:`fitted_iters` measured (for the log)."""
        first_done, first_spent = self.window
        return (spent - first_spent) / (done - first_done)


def rank0(seconds: float) -> float:
    """Rank 0's value on every rank: distributed ranks must fit the schedule
    and stop at the same iteration, so rank 0's clock decides."""
    if get_world_size() == 1:
        return seconds
    value = torch.tensor([seconds], dtype=torch.float64)
    broadcast(value, src=0)
    return value.item()
