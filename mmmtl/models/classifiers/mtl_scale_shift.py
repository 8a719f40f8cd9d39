"""Meta-transfer learning by scaling and shifting (Sun, Liu, Chua, Schiele,
"Meta-Transfer Learning for Few-Shot Learning", CVPR 2019).

Not the MTL classifier of Eshratifar et al. (joint transfer + MAML /
Reptile training): that is :class:`MTL`.
"""
from functools import partial
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from mmmtl.evaluation.metrics import accuracy
from mmmtl.registry import MODELS
from ..adapters.finetune import Finetune, sub_params
from ..adapters.legacy import refuse_legacy_keys
from ..heads.n_way import build_n_way_head
from ..inner_loop import Params, map_tasks
from ..scale_shift import convert_scale_shift
from .base import BaseFewShotClassifier


@MODELS.register_module()
class MTLScaleShift(BaseFewShotClassifier):
    """A pretrained backbone, frozen, whose convolutions are modulated by
    meta-learned scaling and shifting (SS), plus an N-way linear base
    learner adapted to each task by the shared inner loop.

    Meta-training: per task, the base learner starts from its meta-learned
    initialisation and takes the adapter's ``num_steps`` SGD steps on the
    support features (a head-only :class:`Finetune`); the query loss at the
    adapted base learner updates the SS parameters and the initialisation
    (second order by default). The tasks
    of a meta-batch are embedded in one backbone pass and adapted with
    ``torch.func.vmap``.

    Pretraining is the transfer baseline's base training: load its
    checkpoint with ``load_from`` (its backbone keys are kept; the SS
    parameters start at scale 1, shift 0, so the network starts as the
    pretrained one).

    Batch norm: the pretrained layers are frozen, running statistics always
    (the backbone stays in eval mode), so a task's result does not depend on
    the other images of the batch.

    Hard tasks (Sun et al.'s HT meta-batch): after each meta-batch the query
    accuracy of every class is kept (:meth:`hardest_classes`);
    :class:`HardTaskHook` re-samples tasks from the hardest ones.

    Args:
        backbone: backbone config (as pretrained).
        base_learner: the N-way linear base learner's config with
            ``in_channels`` (``num_classes`` is set to ``num_ways``).
        num_ways: N of the episodes.
        adapter: the base learner's inner loop, a head-only ``Finetune``
            (paper: 20 steps at lr 0.01, 100 at meta-test), starting from
            the meta-learned initialisation (``head_init='meta'``, the
            paper) or the support class means (``'prototypes'``, the head's
            ``prototype_params``, e.g. a cosine head imprinted with them, as
            the transfer baseline's test head; then only SS is
            meta-learned).
        first_order: drop the second-order terms of the meta-gradient.
        scale_mode: ``'out'`` (a scale per output channel) or ``'out_in'``
            (per output and input channel) of each kernel.
    """

    ways_head_name = 'base learner'

    def __init__(self,
                 backbone: dict,
                 base_learner: dict,
                 num_ways: int,
                 adapter: dict = dict(
                     type='Finetune',
                     adapt='head.',
                     num_steps=20,
                     lr=0.01,
                     test_cfg=dict(num_steps=100)),
                 first_order: bool = False,
                 scale_mode: str = 'out',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **legacy) -> None:
        refuse_legacy_keys('MTLScaleShift', legacy)
        super().__init__(backbone, data_preprocessor, init_cfg)
        convert_scale_shift(self.backbone, scale_mode)
        self.base_learner = build_n_way_head(base_learner, num_ways,
                                             'MTLScaleShift: base_learner')
        self.num_ways = num_ways
        self.first_order = first_order
        self.class_accuracy: Dict[int, float] = {}
        self.build_adapter(adapter)
        if not isinstance(self.adapter, Finetune) or (
                self.adapter.head is not None
                or self.adapter.head_init not in ('meta', 'prototypes')):
            raise ValueError(
                'MTLScaleShift: the adapter is the base learner\'s inner '
                "loop: a Finetune on it (head=None) from 'meta' or "
                f"'prototypes', got {adapter}")

    def train(self, mode: bool = True) -> 'MTLScaleShift':
        super().train(mode)
        self.backbone.eval()  # frozen pretrained batch norm
        return self

    def n_way_head(self) -> nn.Module:
        return self.base_learner

    def loss(self, inputs: Tensor, data_samples: dict) -> Dict[str, Tensor]:
        """Mean query cross-entropy over the meta-batch after the inner
        loop; records the query accuracy of each class."""
        episodes = self.split_episodes(inputs, data_samples)
        # one backbone pass for the whole meta-batch (frozen batch norm)
        support_f, query_f = episodes.split(
            self.extract_feat(inputs.flatten(0, 1)).unflatten(
                0, inputs.shape[:2]))
        fast = map_tasks(
            partial(
                self.adapter.finetune_features,
                self,
                num_ways=episodes.num_ways,
                first_order=self.first_order),
            (support_f, episodes.support_y))

        def evaluate(fast_t: Params, f: Tensor,
                     y: Tensor) -> Tuple[Tensor, Tensor]:
            scores = functional_call(self.base_learner,
                                     sub_params(fast_t, 'head.'), (f, ))
            return F.cross_entropy(scores, y), scores.detach()

        losses, scores = map_tasks(evaluate,
                                   (fast, query_f, episodes.query_y))
        self._record_class_accuracy(
            episodes.split(data_samples['gt_label'])[1],
            scores.argmax(-1) == episodes.query_y)
        return dict(
            loss=losses.mean(),
            accuracy=accuracy(scores, episodes.query_y).mean())

    def _record_class_accuracy(self, classes: Tensor, correct: Tensor) -> None:
        classes, correct = classes.flatten(), correct.flatten().float()
        unique, inverse = torch.unique(classes, return_inverse=True)
        hits = torch.zeros(len(unique)).index_add_(0, inverse, correct.cpu())
        counts = torch.bincount(inverse.cpu(), minlength=len(unique))
        self.class_accuracy = {
            int(c): float(h / n)
            for c, h, n in zip(unique.tolist(), hits, counts)
        }

    def hardest_classes(self, num: int) -> Optional[list]:
        """The ``num`` classes of the last meta-batch with the lowest query
        accuracy (global labels; ties by label), or None before the first
        meta-batch or when it held fewer classes."""
        if len(self.class_accuracy) < num:
            return None
        ranked = sorted(
            self.class_accuracy.items(), key=lambda kv: (kv[1], kv[0]))
        return [c for c, _ in ranked[:num]]

    def ss_parameters(self) -> Dict[str, nn.Parameter]:
        """The meta-learned scaling and shifting parameters, by name."""
        return {
            n: p
            for n, p in self.named_parameters()
            if n.rsplit('.', 1)[-1] in ('ss_scale', 'ss_shift')
        }
