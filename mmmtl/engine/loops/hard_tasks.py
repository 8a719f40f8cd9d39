"""Hard-task (HT) meta-batches (Sun et al., "Meta-Transfer Learning for
Few-Shot Learning", CVPR 2019)."""
from typing import Optional

from mmengine.model import is_model_wrapper

from mmmtl.datasets.episodes import episode_collate


class HardTasks:
    """Every ``interval`` meta-batches, one more meta-batch of ``num_tasks``
    episodes over the N classes that the last meta-batch classified worst
    (lowest query accuracy), with new images.

    The model must offer ``hardest_classes(num)`` (as
    :class:`MTLScaleShift`). The episodes are drawn from the training
    :class:`EpisodicDataset` by the stream (``seed``, iteration), so a run is
    reproducible and resumable. :class:`FewShotTrainLoop` trains them inside
    its iteration, so a time budget counts them.

    Args:
        interval: iterations between HT meta-batches.
        num_tasks: episodes per HT meta-batch (default: the training
            meta-batch size).
        seed: seed of the HT image stream.
    """

    def __init__(self,
                 interval: int = 1,
                 num_tasks: Optional[int] = None,
                 seed: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'hard tasks: interval must be >= 1, got '
                             f'{interval}')
        self.interval = interval
        self.num_tasks = num_tasks
        self.seed = seed

    def due(self, iteration: int) -> bool:
        """Whether an HT meta-batch follows the (0-based) ``iteration``."""
        return (iteration + 1) % self.interval == 0

    def train(self, runner) -> Optional[dict]:
        """Train one HT meta-batch after ``runner.iter``'s meta-batch and log
        its terms as ``train/hard_*``; returns its logs, or None while the
        model knows no class accuracy yet."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        episodes = runner.train_dataloader.dataset
        classes = model.hardest_classes(episodes.num_ways)
        if classes is None:
            return None
        num_tasks = self.num_tasks or runner.train_dataloader.batch_size
        batch = episode_collate([
            episodes.episode_of_classes(classes, self.seed,
                                        runner.iter * num_tasks + t)
            for t in range(num_tasks)
        ])
        logs = runner.model.train_step(
            batch, optim_wrapper=runner.optim_wrapper)
        for key, value in logs.items():
            runner.message_hub.update_scalar(f'train/hard_{key}', value)
        return logs
