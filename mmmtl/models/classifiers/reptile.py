"""Reptile (Nichol et al., "On First-Order Meta-Learning Algorithms",
2018)."""
from typing import Dict, Tuple

import torch
from torch import Tensor

from mmmtl.evaluation.metrics import accuracy
from mmmtl.registry import MODELS
from .gradient_meta_learner import GradientMetaLearner


@MODELS.register_module()
class Reptile(GradientMetaLearner):
    """Meta-update: theta <- theta + eps * mean_tasks(phi_task - theta), with
    phi_task the weights after the adapter's ``num_steps`` SGD steps on the
    task's support set (full batch; the reference uses Adam mini-batches).

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

    gives_features = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.adapter.learn_lr is not None:
            raise ValueError('Reptile has no gradient for learned inner '
                             'learning rates; set adapter.learn_lr=None')

    def _update(self, inputs: Tensor, data_samples: dict,
                with_features: bool) -> tuple:
        """The Reptile update direction ``theta - mean(phi)`` of each shared
        weight (adapted ones only; the others get none), the mean support
        loss and accuracy (%) at the adapted weights, and with
        ``with_features`` the support features of the first inner step."""
        episodes = self.split_episodes(inputs, data_samples)
        # the adaptation needs no graph, except to keep the one of the
        # first step's features at the shared weights (MTL reuses them)
        with torch.set_grad_enabled(with_features and torch.is_grad_enabled()):
            out = self.adapt_batch(episodes, True, with_features)
        fast, feats = out if with_features else (out, None)
        fast = {n: p.detach() for n, p in fast.items()}
        with torch.no_grad():
            losses, scores = self.evaluate_batch(fast, episodes.support_x,
                                                 episodes.support_y)
        shared = self.shared_params()
        update = {
            n: shared[n].detach() - p.mean(0)
            for n, p in fast.items() if shared[n].requires_grad
        }
        surrogate = sum((shared[n] * u).sum() for n, u in update.items())
        logs = dict(loss=surrogate - surrogate.detach() + losses.mean(),
                    accuracy=accuracy(scores, episodes.support_y).mean())
        if not with_features:
            return logs, None, None
        return (logs, feats.flatten(0, 1),
                episodes.split(data_samples['gt_label'])[0].flatten())

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        return self._update(inputs, data_samples, False)[0]

    def loss_and_features(
            self, inputs: Tensor,
            data_samples: dict) -> Tuple[Dict[str, Tensor], Tensor, Tensor]:
        """:meth:`loss`, plus the features [T * S, D] of the support images
        (all of a training episode's images) that the first inner step
        computed at the shared weights, and their global labels: MTL's
        transfer branch trains on them without a second forward."""
        return self._update(inputs, data_samples, True)
