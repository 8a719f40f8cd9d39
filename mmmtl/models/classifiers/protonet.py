"""Prototypical Networks (Snell et al., "Prototypical Networks for Few-shot
Learning", NeurIPS 2017)."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtl.evaluation.metrics import accuracy
from mmmtl.registry import MODELS
from ..heads.prototype import class_means, neg_sq_distances
from .base import BaseFewShotClassifier


@MODELS.register_module()
class ProtoNet(BaseFewShotClassifier):
    """Classify a query by a softmax over minus its squared Euclidean
    distances to the class means of the embedded support set.

    Meta-training: the mean over the T episodes of a meta-batch of the query
    cross-entropy; each episode is embedded on its own (batch statistics and
    results do not depend on how episodes are grouped into meta-batches or
    split over ranks).

    Batch norm follows the backbone: ``track_running_stats=True`` (Snell et
    al.: running statistics at meta-test, non-transductive) or ``False``
    (batch statistics always; the query set is normalised with its own
    statistics at meta-test, as in MAML).

    Args:
        backbone: backbone config.
        adapter: the meta-test adapter (default: the squared-Euclidean
            ``Centroid``, the training objective's classifier).
    """

    gives_features = True

    def __init__(self,
                 backbone: dict,
                 adapter: dict = dict(type='Centroid', metric='euclidean'),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, data_preprocessor, init_cfg)
        self.build_adapter(adapter)

    def _meta_objective(self, inputs: Tensor, data_samples: dict) -> tuple:
        """Mean query cross-entropy over the episodes of a meta-batch, the
        query accuracy (%), and every image's features [T * M, D]."""
        episodes = self.split_episodes(inputs, data_samples)
        losses, accuracies, features = [], [], []
        for images, support_y, query_y in zip(inputs, episodes.support_y,
                                              episodes.query_y):
            feats = self.extract_feat(images)  # the episode's own batch
            support_f, query_f = feats.split([len(support_y), len(query_y)])
            scores = neg_sq_distances(
                query_f, class_means(support_f, support_y, episodes.num_ways))
            losses.append(F.cross_entropy(scores, query_y))
            accuracies.append(accuracy(scores.detach(), query_y))
            features.append(feats)
        return (dict(
            loss=torch.stack(losses).mean(),
            accuracy=torch.stack(accuracies).mean().detach()),
                torch.cat(features))

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        return self._meta_objective(inputs, data_samples)[0]

    def loss_and_features(
            self, inputs: Tensor,
            data_samples: dict) -> Tuple[Dict[str, Tensor], Tensor, Tensor]:
        """:meth:`loss`, plus the features of every image [T * M, D] (each
        episode embedded on its own) and their global labels: MTL's transfer
        branch trains on them without a second forward."""
        logs, feats = self._meta_objective(inputs, data_samples)
        return logs, feats, data_samples['gt_label'].flatten()
