from .few_shot_train_loop import FewShotTrainLoop
from .hard_tasks import HardTasks
from .meta_test_loop import MetaTestLoop, episode_accuracies
from .schedule_stretch import stretch_loop_counts, stretch_scheduler_counts
from .time_budget import TimeBudget

__all__ = [
    'FewShotTrainLoop', 'HardTasks', 'MetaTestLoop', 'TimeBudget',
    'episode_accuracies', 'stretch_loop_counts', 'stretch_scheduler_counts'
]
