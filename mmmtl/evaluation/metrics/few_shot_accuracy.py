from typing import List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmmtl.registry import METRICS


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
    """Meta-test accuracy over episodes (percent): ``accuracy_mean``,
    ``accuracy_std``, ``accuracy_ci95`` and ``num_episodes``."""

    default_prefix = ''

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for result in data_samples:
            self.results.append(result['accuracy'])

    def compute_metrics(self, results: List[float]) -> dict:
        return accuracy_summary(results)
