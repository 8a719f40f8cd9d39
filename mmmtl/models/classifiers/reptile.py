"""Reptile (Nichol et al., "On First-Order Meta-Learning Algorithms",
2018)."""
from typing import Dict, Tuple

import torch
from torch import Tensor

from mmmtl.registry import MODELS
from ..inner_loop import Params
from .gradient_meta_learner import GradientMetaLearner


@MODELS.register_module()
class Reptile(GradientMetaLearner):
    """Meta-update: theta <- theta + eps * mean_tasks(phi_task - theta), with
    phi_task the weights after ``num_inner_steps`` SGD steps on the task's
    support set (full batch; the reference uses Adam mini-batches).

    The update is handed to the optimizer as a gradient: :meth:`loss`
    returns a surrogate whose gradient w.r.t. each shared weight is
    ``theta - mean(phi)``, so ``SGD(lr=eps)`` applies the Reptile step, DDP
    averages the update over ranks like any gradient, and a LinearLR
    scheduler anneals eps to 0 as in the paper. The surrogate's value is the
    mean support loss at the adapted weights (for logging).

    Training episodes need no query set (``num_queries=0``; train with more
    shots instead, e.g. 10 as the reference). Batch norm: ``bn_policy``
    (see :class:`GradientMetaLearner`); the reference uses batch statistics
    (transductive).
    """

    def __init__(self, **kwargs) -> None:
        if kwargs.get('learn_inner_lr') is not None:
            raise ValueError('Reptile has no gradient for learned inner '
                             'learning rates; set learn_inner_lr=None')
        super().__init__(**kwargs)

    def meta_update(self, inputs: Tensor,
                    data_samples: dict) -> Tuple[Params, Dict[str, Tensor]]:
        """The Reptile update direction ``theta - mean(phi)`` of each shared
        weight (adapted ones only; the others get none) and the mean support
        loss and accuracy (%) at the adapted weights."""
        support, labels, _, _ = self.split_episodes(inputs, data_samples)
        with torch.no_grad():
            fast = self.adapt_batch(support, labels, first_order=True)
            losses, accuracies = self.evaluate_batch(fast, support, labels)
        shared = self.shared_params()
        update = {n: shared[n].detach() - p.mean(0) for n, p in fast.items()}
        return update, dict(loss=losses.mean(), accuracy=accuracies.mean())

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        update, logs = self.meta_update(inputs, data_samples)
        shared = self.shared_params()
        surrogate = sum((shared[n] * u).sum() for n, u in update.items())
        logs['loss'] = surrogate - surrogate.detach() + logs['loss']
        return logs
