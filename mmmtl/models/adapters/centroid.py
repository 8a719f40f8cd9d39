"""Nearest-centroid adaptation: the class means of the support embeddings
(Snell et al.'s prototypes; Chen et al.'s Baseline++ cosine classifier)."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmtl.registry import MODELS
from ..heads.prototype import class_means, neg_sq_distances
from .base import BaseAdapter

METRICS = ('cosine', 'euclidean')


@MODELS.register_module()
class Centroid(BaseAdapter):
    """Score a query by its similarity to each class mean of the frozen
    support embeddings.

    Args:
        metric: ``'cosine'`` (``scale`` times the cosine similarity, as
            Baseline++ and weight imprinting) or ``'euclidean'`` (minus the
            squared distance: Prototypical Networks).
        scale: the cosine scores' temperature (the softmax of the scores
            gives probabilities; the ranking does not depend on it).

    Example:
        >>> import torch
        >>> from mmmtl.models import ProtoNet
        >>> model = ProtoNet(backbone=torch.nn.Flatten())  # pixels = feats
        >>> adapter = Centroid(metric='euclidean')
        >>> support = torch.tensor([0., 1., 9., 10.]).view(4, 1, 1, 1)
        >>> state = adapter.adapt(model, support,
        ...                       torch.tensor([0, 0, 1, 1]), num_ways=2)
        >>> state['prototypes']
        tensor([[0.5000],
                [9.5000]])
        >>> adapter.predict(model, state, torch.tensor([[[[2.]]]]))
        tensor([[ -2.2500, -56.2500]])

    References:
        Snell et al., "Prototypical Networks for Few-shot Learning",
        NeurIPS 2017; Chen et al., "A Closer Look at Few-shot
        Classification", ICLR 2019.
    """

    def __init__(self, metric: str = 'cosine', scale: float = 10.0) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f'Centroid: metric must be one of {METRICS}, '
                             f'got {metric!r}')
        if not scale > 0:
            raise ValueError(f'Centroid: scale must be > 0, got {scale}')
        self.metric = metric
        self.scale = float(scale)

    def adapt(self, model: nn.Module, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        with torch.no_grad():
            return dict(prototypes=class_means(
                model.extract_feat(support), labels, num_ways))

    def predict(self, model: nn.Module, state: Dict[str, Tensor],
                query: Tensor) -> Tensor:
        with torch.no_grad():
            return self.scores(model.extract_feat(query),
                               state['prototypes'])

    def scores(self, feats: Tensor, prototypes: Tensor) -> Tensor:
        """Scores [Q, N] of features [Q, D] against prototypes [N, D]."""
        if self.metric == 'euclidean':
            return neg_sq_distances(feats, prototypes)
        return self.scale * F.normalize(feats, dim=-1) @ F.normalize(
            prototypes, dim=-1).t()

    def describe(self) -> str:
        return f'Centroid({self.metric})'
