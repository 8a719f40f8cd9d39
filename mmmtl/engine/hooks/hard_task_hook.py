"""Switch on hard-task (HT) meta-batches (Sun et al., CVPR 2019)."""
from typing import Optional

from mmengine.hooks import Hook

from mmmtl.engine.loops import FewShotTrainLoop, HardTasks
from mmmtl.registry import HOOKS


@HOOKS.register_module()
class HardTaskHook(Hook):
    """Give the train loop :class:`HardTasks` ``(interval, num_tasks,
    seed)``: after every ``interval`` meta-batches, one more over the
    classes the last one classified worst. The loop trains them inside its
    iterations (so a time budget counts them); this hook only sets the
    loop's public ``hard_tasks``, which needs a :class:`FewShotTrainLoop`.
    """

    def __init__(self,
                 interval: int = 1,
                 num_tasks: Optional[int] = None,
                 seed: int = 1) -> None:
        self.hard_tasks = HardTasks(interval, num_tasks, seed)

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, FewShotTrainLoop):
            raise TypeError(
                'HardTaskHook needs train_cfg.type=\'FewShotTrainLoop\', got '
                f'{type(runner.train_loop).__name__}')
        runner.train_loop.hard_tasks = self.hard_tasks
