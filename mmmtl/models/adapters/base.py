"""The adapter interface: how a few-shot classifier learns a new task from
its support set and scores queries with it (the few-shot analogue of
mmpretrain's head: the classifier owns the embedding and its training
objective, the adapter owns test-time learning)."""
from abc import ABCMeta, abstractmethod
from typing import Dict, Optional

import torch.nn as nn
from torch import Tensor


class BaseAdapter(nn.Module, metaclass=ABCMeta):
    """Learn a task from support images, score query images.

    An adapter is a module (learned inner learning rates, MAML++ / Meta-SGD,
    are its parameters) held by the classifier as ``adapter``; it reads the
    classifier's embedding (``model.extract_feat`` or ``model.backbone``)
    and, where it needs one, its N-way head (``model.n_way_head()``). Any
    adapter works with any classifier that gives what it reads, so one
    checkpoint can be meta-tested with several (``tools/test.py --adapter``).

    The task state is a flat dict of tensors (never modules), so an adapted
    task is saved and reloaded with weights-only loading.
    """

    def setup(self, model: nn.Module) -> None:
        """Called once by the classifier that owns the adapter, after its
        backbone and head exist (e.g. to create learned rates)."""

    def fixed_num_ways(self, model: nn.Module) -> Optional[int]:
        """N of the episodes this adapter can score with ``model``, or None
        for any N (the default)."""
        return None

    @abstractmethod
    def adapt(self, model: nn.Module, support: Tensor, labels: Tensor,
              num_ways: int) -> Dict[str, Tensor]:
        """The task state learned from ``support`` [S, C, H, W] with episode
        labels [S] in 0..num_ways-1."""

    @abstractmethod
    def predict(self, model: nn.Module, state: Dict[str, Tensor],
                query: Tensor) -> Tensor:
        """Class scores [Q, N] of ``query`` [Q, C, H, W] (logits: a softmax
        gives probabilities)."""

    def describe(self) -> str:
        """A short name with the settings, for result tables."""
        return type(self).__name__
