from .hard_task_hook import HardTaskHook
from .time_budget_hook import TimeBudgetHook

__all__ = ['HardTaskHook', 'TimeBudgetHook']
