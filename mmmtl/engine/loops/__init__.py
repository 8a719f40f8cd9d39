from .few_shot_train_loop import FewShotTrainLoop
from .hard_tasks import HardTasks
from .meta_test_loop import MetaTestLoop
from .schedule_stretch import stretch_loop_counts, stretch_scheduler_counts
from .time_budget import TimeBudget

__all__ = [
    'FewShotTrainLoop', 'HardTasks', 'MetaTestLoop', 'TimeBudget',
    'stretch_loop_counts', 'stretch_scheduler_counts'
]
