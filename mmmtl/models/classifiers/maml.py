"""MAML (Finn et al., "Model-Agnostic Meta-Learning for Fast Adaptation of
Deep Networks", ICML 2017) and its first-order approximation."""
from typing import Dict, Tuple

from torch import Tensor

from mmmtl.evaluation.metrics import accuracy
from mmmtl.registry import MODELS
from .gradient_meta_learner import GradientMetaLearner


@MODELS.register_module()
class MAML(GradientMetaLearner):
    """Meta-objective: mean over the tasks of the query cross-entropy at the
    fast weights reached by the adapter's ``num_steps`` SGD steps on the
    support set.

    Second order by default (the inner steps are differentiated);
    ``first_order=True`` drops the second-order terms (FOMAML): the
    meta-gradient is the query-loss gradient at the fast weights. With the
    adapter's ``learn_lr`` this is MAML++'s per-step rates or Meta-SGD.

    Batch norm: ``bn_policy='batch'`` (default, as the reference) or
    ``'running'``; see :class:`GradientMetaLearner`.

    Args:
        first_order: first-order MAML.
        **kwargs: :class:`GradientMetaLearner` arguments.
    """

    gives_features = True

    def __init__(self, first_order: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first_order = first_order

    def _meta_objective(self, inputs: Tensor, data_samples: dict,
                        with_features: bool) -> tuple:
        episodes = self.split_episodes(inputs, data_samples)
        out = self.adapt_batch(episodes, self.first_order, with_features)
        fast, feats = out if with_features else (out, None)
        losses, scores = self.evaluate_batch(fast, episodes.query_x,
                                             episodes.query_y)
        logs = dict(loss=losses.mean(),
                    accuracy=accuracy(scores.detach(),
                                      episodes.query_y).mean())
        if not with_features:
            return logs, None, None
        return (logs, feats.flatten(0, 1),
                episodes.split(data_samples['gt_label'])[0].flatten())

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        """The MAML meta-objective of a meta-batch (differentiable w.r.t.
        the shared weights) and the query accuracy (%)."""
        return self._meta_objective(inputs, data_samples, False)[0]

    def loss_and_features(
            self, inputs: Tensor,
            data_samples: dict) -> Tuple[Dict[str, Tensor], Tensor, Tensor]:
        """:meth:`loss`, plus the support features [T * S, D] the first
        inner step computed at the shared weights (each task normalised with
        its own batch statistics) and their global labels [T * S]: MTL's
        transfer branch trains on them without a second forward."""
        return self._meta_objective(inputs, data_samples, True)
