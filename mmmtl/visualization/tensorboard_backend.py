"""TensorBoard scalars without the log's counters."""
from mmengine.visualization import TensorboardVisBackend

from mmmtl.registry import VISBACKENDS

# counters the runtime logs beside the measurements: the iteration (already
# every scalar's step) and the number of validation episodes (a setting)
COUNTERS = ('iter', 'epoch', 'val/num_episodes', 'num_episodes')


@VISBACKENDS.register_module()
class FewShotTensorboardVisBackend(TensorboardVisBackend):
    """mmengine's ``TensorboardVisBackend`` that leaves out the counters
    of :data:`COUNTERS`, so TensorBoard plots only measurements: with the
    runtime's ``log_processor.log_with_hierarchy`` they are ``train/...``
    (loss terms, accuracies, lr, time) and ``val/...`` (the meta-validation
    metrics, time).

    Args:
        save_dir: where the event files go.
    """

    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path=None,
                    **kwargs) -> None:
        super().add_scalars(
            {k: v
             for k, v in scalar_dict.items() if k not in COUNTERS}, step,
            file_path, **kwargs)
