from .curves_hook import TrainingCurvesHook
from .hard_task_hook import HardTaskHook
from .meta_test_progress_hook import MetaTestProgressHook

__all__ = ['HardTaskHook', 'MetaTestProgressHook', 'TrainingCurvesHook']
