"""Prototypical Networks (Snell et al., "Prototypical Networks for Few-shot
Learning", NeurIPS 2017)."""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtl.registry import MODELS
from .base import BaseFewShotClassifier


def class_means(feats: Tensor, labels: Tensor, num_ways: int) -> Tensor:
    """Prototypes [N, D]: the mean support feature of each class."""
    onehot = F.one_hot(labels, num_ways).to(feats.dtype)
    return (onehot.t() @ feats) / onehot.sum(0).unsqueeze(1)


def neg_sq_distances(feats: Tensor, prototypes: Tensor) -> Tensor:
    """Scores [Q, N]: minus the squared Euclidean distance to each
    prototype."""
    return -(feats.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(-1)


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
    """

    def _meta_objective(self, inputs: Tensor, data_samples: dict) -> tuple:
        """Mean query cross-entropy over the episodes of a meta-batch, the
        query accuracy (%), and every image's features [T * M, D]."""
        if inputs.dim() != 5 or 'episode_label' not in data_samples:
            raise ValueError('ProtoNet meta-trains on episodic batches '
                             '(EpisodicDataset + episode_collate)')
        num_ways = data_samples['num_ways']
        num_support = num_ways * data_samples['num_shots']
        losses, accuracies, features = [], [], []
        for images, labels in zip(inputs, data_samples['episode_label']):
            feats = self.extract_feat(images)
            scores = neg_sq_distances(
                feats[num_support:],
                class_means(feats[:num_support], labels[:num_support],
                            num_ways))
            query_labels = labels[num_support:]
            losses.append(F.cross_entropy(scores, query_labels))
            accuracies.append(
                (scores.argmax(-1) == query_labels).float().mean() * 100)
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

    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        with torch.no_grad():
            return dict(
                prototypes=class_means(
                    self.extract_feat(support), labels, num_ways))

    def predict(self, task_state: Dict[str, Tensor],
                query: Tensor) -> Tensor:
        with torch.no_grad():
            return neg_sq_distances(
                self.extract_feat(query), task_state['prototypes'])
