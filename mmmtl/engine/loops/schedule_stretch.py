"""Stretching an iteration-based schedule to another length, as pure
functions of iteration counts (the train loop applies them when it fits a
schedule to a time budget)."""
import math
from collections import Counter
from typing import Dict, Mapping

from mmengine.optim.scheduler import (ConstantParamScheduler,
                                      CosineAnnealingParamScheduler,
                                      LinearParamScheduler,
                                      MultiStepParamScheduler,
                                      PolyParamScheduler, StepParamScheduler)

# schedulers (and their LR / momentum variants) whose shape is set by
# iteration counts alone: begin / end plus these attributes (total_iters of
# the linear / poly / constant ones follows from begin and end, as in their
# __init__). Not exponential ones: their shape is in gamma per step.
STRETCHABLE = {
    CosineAnnealingParamScheduler: ('T_max', ),
    StepParamScheduler: ('step_size', ),
    MultiStepParamScheduler: ('milestones', ),
    LinearParamScheduler: (),
    ConstantParamScheduler: (),
    PolyParamScheduler: (),
}


def scaled(iterations: int, scale: float) -> int:
    """A positive iteration count (an interval, a period) times ``scale``."""
    return max(1, round(iterations * scale))


def check_stretchable(scheduler) -> None:
    """Raise TypeError for a scheduler whose shape is not set by iteration
    counts alone (epoch-based, exponential, ...)."""
    if scheduler.by_epoch or not isinstance(scheduler, tuple(STRETCHABLE)):
        raise TypeError(
            'fit_schedule rescales iteration-based cosine, step, multi-step, '
            f'linear, constant and poly schedulers, not '
            f'{type(scheduler).__name__}(by_epoch={scheduler.by_epoch})')


def scheduler_counts(scheduler) -> Dict:
    """The iteration counts of a stretchable scheduler (public attributes:
    ``begin``, ``end``, ``total_iters`` where it has one, and its
    period attributes of :data:`STRETCHABLE`)."""
    check_stretchable(scheduler)
    names = ['begin', 'end']
    if hasattr(scheduler, 'total_iters'):
        names.append('total_iters')
    for cls, attributes in STRETCHABLE.items():
        if isinstance(scheduler, cls):
            names += attributes
    return {name: getattr(scheduler, name) for name in names}


def stretch_scheduler_counts(counts: Mapping, scale: float) -> Dict:
    """Scheduler iteration counts stretched by ``scale``: ``begin`` rounded
    (it may stay 0), a finite ``end`` and the periods to at least 1,
    milestone keys each, ``total_iters = end - begin - 1`` as the
    schedulers' ``__init__`` sets it. The value formulas are recursive in
    the step, so values continue smoothly from a stretch mid-run."""
    new = dict(counts)
    new['begin'] = round(counts['begin'] * scale)
    if math.isfinite(counts['end']):
        new['end'] = scaled(counts['end'], scale)
    if 'total_iters' in counts:
        new['total_iters'] = new['end'] - new['begin'] - 1
    for name in ('T_max', 'step_size'):
        if name in counts:
            new[name] = scaled(counts[name], scale)
    if 'milestones' in counts:
        new['milestones'] = Counter({
            scaled(k, scale): v
            for k, v in counts['milestones'].items()
        })
    return new


def stretch_loop_counts(counts: Mapping, fitted: int) -> Dict:
    """A train loop's counts for ``fitted`` iterations instead of
    ``counts['max_iters']``: ``val_interval``, ``dynamic_milestones``,
    ``dynamic_intervals`` and ``checkpoint_intervals`` (of iteration-based
    checkpoint hooks) in proportion."""
    scale = fitted / counts['max_iters']
    return dict(
        max_iters=fitted,
        val_interval=scaled(counts['val_interval'], scale),
        dynamic_milestones=[
            round(m * scale) for m in counts['dynamic_milestones']
        ],
        dynamic_intervals=[
            scaled(i, scale) for i in counts['dynamic_intervals']
        ],
        checkpoint_intervals=[
            scaled(i, scale) for i in counts['checkpoint_intervals']
        ])
