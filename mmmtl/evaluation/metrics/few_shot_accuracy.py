from typing import List, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmmtl.registry import METRICS


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Percent of correct predictions, the one definition of accuracy in
    mmmtl (the metric's and the training logs'): ``pred`` are labels of
    ``target``'s shape or scores with one more (class) dimension, whose
    argmax is the label; a leading task dimension gives one value per task.

    Example:
        >>> import torch
        >>> accuracy(torch.tensor([[2., 1.], [0., 3.]]), torch.tensor([0, 0]))
        tensor(50.)
    """
    if pred.dim() == target.dim() + 1:
        pred = pred.argmax(-1)
    return (pred == target).float().mean(-1) * 100


def accuracy_summary(accuracies: Sequence[float]) -> dict:
    """Mean, std and 95% confidence interval of per-episode accuracies.

    ``accuracy_ci95`` is the half-width 1.96 * std / sqrt(E) of the normal
    interval over E episodes; std is the population std (ddof=0), as in the
    ProtoNet and MAML reference code.
    """
    acc = np.asarray(accuracies, dtype=np.float64)
    if acc.size == 0:
        raise ValueError('no episode accuracies to summarise')
    std = float(acc.std())
    return dict(
        accuracy_mean=float(acc.mean()),
        accuracy_std=std,
        accuracy_ci95=1.96 * std / float(np.sqrt(acc.size)),
        num_episodes=int(acc.size))


@METRICS.register_module()
class FewShotAccuracy(BaseMetric):
    """Meta-test accuracy over episodes (percent): scores the model's
    predictions (``forward(mode='predict')``: one dict per episode with
    ``pred_label`` and the queries' ``gt_label``) against the episode
    labels.

    Returns ``accuracy_mean``, ``accuracy_std``, ``accuracy_ci95``,
    ``num_episodes`` and, with ``keep_episodes`` (set by ``MetaTestLoop``),
    ``accuracy_per_episode``: every episode's accuracy, in the order of the
    episodes' indices (mmengine collects the ranks' results back into
    dataset order), so that two models tested on the same seeded episodes
    compare episode by episode (paired). Off by default: validation logs and
    checkpoints keep the summary only.

    Args:
        keep_episodes: also return the per-episode accuracies.
    """

    default_prefix = ''

    def __init__(self, keep_episodes: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep_episodes = keep_episodes

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for episode in data_samples:
            self.results.append(
                accuracy(episode['pred_label'], episode['gt_label']).item())

    def compute_metrics(self, results: List[float]) -> dict:
        metrics = accuracy_summary(results)
        if self.keep_episodes:
            metrics['accuracy_per_episode'] = list(results)
        return metrics
