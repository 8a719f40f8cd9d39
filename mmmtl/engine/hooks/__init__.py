from .hard_task_hook import HardTaskHook

__all__ = ['HardTaskHook']
