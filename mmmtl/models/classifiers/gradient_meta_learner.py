"""The shared base of the gradient-based meta-learners (MAML, Reptile): a
backbone plus an N-way head whose weights each task adapts through the
classifier's ``Finetune`` adapter (the same object in meta-training and at
meta-test)."""
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..adapters.finetune import Finetune
from ..adapters.legacy import refuse_legacy_keys
from ..batch_stats_norm import convert_batch_stats_norm
from ..heads.n_way import build_n_way_head
from ..inner_loop import Params, map_tasks
from .base import BaseFewShotClassifier
from .episode_split import EpisodeSplit

BN_POLICIES = ('batch', 'running')
# Automatic task batching (``vmap=None``): vmap the tasks when each brings at
# most this many pixels (images x height x width: 16 Omniglot images of
# 28x28), else loop. Below it a vmapped (grouped) convolution beats T small
# ones; above it T plain convolutions win (measured on CPU by
# benchmarks/maml_speed.py: Omniglot and 32x32 support sets vmapped, their
# query sets and 84x84 support sets looped; docs/meta_learners.md).
VMAP_MAX_PIXELS = 16 * 28 * 28


class GradientMetaLearner(BaseFewShotClassifier):
    """Backbone + N-way head, meta-learned through a differentiable or
    first-order inner loop (Finn et al., "Model-Agnostic Meta-Learning",
    ICML 2017; Nichol et al., "On First-Order Meta-Learning Algorithms",
    2018).

    Meta-training batches are T episodes ([T, M, C, H, W], support first);
    each task's inner loop is the adapter's (:class:`Finetune`:
    ``num_steps`` SGD steps at ``lr`` or learned rates, from the meta-learned
    head or a zero one), the T of them run at once with ``torch.func.vmap``
    or one task at a time (same result). Meta-testing adapts with the same
    adapter (first order, with its ``test_cfg``).

    Batch norm (``bn_policy``):

    - ``'batch'`` (MAML reference, default): batch statistics in
      meta-training and meta-testing (transductive: the query set is
      normalised with its own statistics). The backbone must not track
      running statistics (``Conv4(track_running_stats=False)``); its BN
      layers become :class:`BatchStatsNorm` (same parameters), every forward
      is pure and the tasks can be vmapped.
    - ``'running'``: the backbone tracks running statistics. Meta-training
      normalises with batch statistics; the running statistics are updated
      by the query (or evaluation) forwards at the adapted weights, not by
      the inner steps (in-place updates cannot run under ``torch.func.grad``)
      and the tasks are looped (not vmappable). Meta-testing uses the running
      statistics for support and query (non-transductive).

    Loss scaling: the inner loss is the mean cross-entropy over the support
    images. The MAML reference sums the per-example losses divided by K,
    i.e. N times the mean, so its inner lr equals ``lr / N`` here
    (reference 0.4 at 5-way = 2.0 here).

    Args:
        backbone: backbone config.
        head: N-way head config with ``in_channels`` (``num_classes`` is set
            to ``num_ways``).
        num_ways: N of the training episodes (and of the test episodes
            while the adapter starts from this head).
        adapter: the inner loop, a :class:`Finetune` config (its ``head``
            left None: this head); e.g. ``dict(type='Finetune',
            num_steps=5, lr=0.05, head_init='zero', test_cfg=dict(
            num_steps=10))``.
        bn_policy: ``'batch'`` or ``'running'`` (see above).
        vmap: ``None`` (default): chosen per call by shape, vmap for tasks
            of at most ``VMAP_MAX_PIXELS`` pixels and a per-task loop (with
            the fused batch-norm kernel) above; ``True`` / ``False`` force
            one. Both give the same results; vmap needs
            ``bn_policy='batch'`` (``'running'`` always loops).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_ways: int,
                 adapter: dict = dict(type='Finetune', num_steps=1, lr=0.5),
                 bn_policy: str = 'batch',
                 vmap: Optional[bool] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **legacy) -> None:
        name = type(self).__name__
        refuse_legacy_keys(name, legacy)
        super().__init__(backbone, data_preprocessor, init_cfg)
        if bn_policy not in BN_POLICIES:
            raise ValueError(f'{name}: bn_policy must be one of '
                             f'{BN_POLICIES}, got {bn_policy!r}')
        self.head = build_n_way_head(head, num_ways, f'{name}: head')
        self.num_ways = num_ways
        self.bn_policy = bn_policy
        self.vmap = vmap
        self._check_bn()
        if bn_policy == 'batch':
            convert_batch_stats_norm(self)
        self.build_adapter(adapter)
        if not isinstance(self.adapter, Finetune) or (
                self.adapter.head is not None):
            raise ValueError(f"{name}: the adapter is the inner loop: a "
                             "Finetune on the model's own head (head=None)"
                             f', got {adapter}')
        if self.adapter.head_init not in ('meta', 'zero'):
            raise ValueError(f"{name}: the inner loop starts the head from "
                             "its meta-learned weights ('meta') or zeros "
                             f"('zero'), got {self.adapter.head_init!r}")
        if self.adapter.head_init == 'zero':  # Kao et al.'s zeroing trick
            self.head.requires_grad_(False)
        self.register_load_state_dict_pre_hook(_move_inner_lrs)

    def _check_bn(self) -> None:
        tracking = [
            m.track_running_stats for m in self.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        wanted = self.bn_policy == 'running'
        if any(t != wanted for t in tracking):
            raise ValueError(
                f"{type(self).__name__}: bn_policy={self.bn_policy!r} needs "
                f'batch-norm layers with track_running_stats={wanted} (e.g. '
                f'Conv4(track_running_stats={wanted}))')

    # functional model ----------------------------------------------------
    def n_way_head(self) -> nn.Module:
        return self.head

    def shared_params(self, num_ways: Optional[int] = None) -> Params:
        """The weights every task starts from, by name (the adapter's
        start: the meta-learned backbone and head, or a zero head with
        ``num_ways`` rows, default the configured N)."""
        return self.adapter.start_params(self, num_ways or self.num_ways)

    def logits(self, params: Params, images: Tensor) -> Tensor:
        """N-way scores of ``images`` [B, C, H, W] with weights ``params``."""
        return Finetune.logits(self, self.head, params, images)[1]

    def use_vmap(self, images: Tensor) -> bool:
        """Whether the tasks of ``images`` [T, B, C, H, W] are vmapped."""
        if self.bn_policy != 'batch':
            return False
        if self.vmap is None:
            return images[0, :, 0].numel() <= VMAP_MAX_PIXELS
        return self.vmap

    @contextmanager
    def _inner_bn(self) -> Iterator[None]:
        """Under ``bn_policy='running'`` in training mode, let the inner
        steps normalise with batch statistics without updating the running
        ones."""
        frozen = [
            m for m in self.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.training and m.track_running_stats
        ]
        for m in frozen:
            m.track_running_stats = False
        try:
            yield
        finally:
            for m in frozen:
                m.track_running_stats = True

    # meta-training -------------------------------------------------------
    def adapt_batch(self, episodes: EpisodeSplit, first_order: bool,
                    with_features: bool = False):
        """Fast weights of each task ([T, ...], the adapted ones only) after
        the adapter's steps on its support set from the shared weights; with
        ``with_features``, also the support features [T, S, D] that the
        first step computed at the shared weights (differentiable w.r.t.
        them; each task normalised with its own batch statistics).

        The inner steps run in float32 even under bfloat16 autocast
        (:class:`~mmmtl.engine.AutocastOptimWrapper`): with them in bfloat16
        the second-order meta-gradient of the Omniglot reference was 15%
        off float64's (38% with one query per class), with only the query
        evaluation in bfloat16 1.8% (benchmarks/maml_speed.py)."""
        with self._inner_bn(), torch.autocast(
                episodes.support_x.device.type, enabled=False):
            return self.adapter.adapt_batch(
                self, episodes.support_x, episodes.support_y,
                episodes.num_ways, first_order,
                self.use_vmap(episodes.support_x), with_features)

    def evaluate_batch(self, fast: Params, images: Tensor,
                       labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-task cross-entropy and scores of ``images`` [T, B, ...]
        under the fast weights of :meth:`adapt_batch`."""
        shared = {
            n: p
            for n, p in self.shared_params().items() if n not in fast
        }

        def evaluate(fast_t: Params, x: Tensor,
                     y: Tensor) -> Tuple[Tensor, Tensor]:
            scores = self.logits({**shared, **fast_t}, x)
            return F.cross_entropy(scores, y), scores

        return map_tasks(evaluate, (fast, images, labels),
                         self.use_vmap(images))

    def adapt(self, support: Tensor, labels: Tensor, num_ways: int) -> Params:
        with self._inner_bn():
            return super().adapt(support, labels, num_ways)


def _move_inner_lrs(module: GradientMetaLearner, state_dict: dict,
                    prefix: str, *args) -> None:
    """Load-state-dict pre-hook: learned inner rates were the classifier's
    ``inner_lrs.*`` before adapters; they are the adapter's ``lrs.*``."""
    old = f'{prefix}inner_lrs.'
    for key in [k for k in state_dict if k.startswith(old)]:
        state_dict[f'{prefix}adapter.lrs.{key[len(old):]}'] = state_dict.pop(
            key)
