"""The shared base of the gradient-based meta-learners (MAML, Reptile): a
backbone plus an N-way head whose parameters are adapted to each task by
:func:`inner_loop`."""
from contextlib import contextmanager
from functools import partial
from typing import (Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from ..batch_stats_norm import convert_batch_stats_norm
from ..head_finetune import finetune_head
from ..heads.n_way import build_n_way_head
from ..inner_loop import (Params, adapt_tasks, inner_loop, map_tasks,
                          select_params)
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
LEARNED_LRS = ('per_step', 'per_param')


def _sub_params(params: Params, prefix: str) -> Params:
    return {
        n[len(prefix):]: p
        for n, p in params.items() if n.startswith(prefix)
    }


class GradientMetaLearner(BaseFewShotClassifier):
    """Backbone + N-way head, meta-learned through a differentiable or
    first-order inner loop (Finn et al., "Model-Agnostic Meta-Learning",
    ICML 2017; Nichol et al., "On First-Order Meta-Learning Algorithms",
    2018).

    Meta-training batches are T episodes ([T, M, C, H, W], support first);
    the T inner loops run at once with ``torch.func.vmap`` or one task at a
    time (same result). Meta-testing adapts a copy-free set of fast weights
    with ``test_num_inner_steps`` first-order steps on the support set.

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
    i.e. N times the mean, so its inner lr equals ``inner_lr / N`` here
    (reference 0.4 at 5-way = 2.0 here).

    Args:
        backbone: backbone config.
        head: N-way head config with ``in_channels`` (``num_classes`` is set
            to ``num_ways``).
        num_ways: N of the training and test episodes.
        num_inner_steps: inner SGD steps in meta-training.
        test_num_inner_steps: inner steps at meta-test (default: as in
            training).
        inner_lr: inner SGD learning rate (initial value when learned).
        adapt: parameters adapted in the inner loop: None (all), a name
            prefix such as ``'head.'`` or a list of names / prefixes.
        learn_inner_lr: None (fixed), ``'per_step'`` (one learned rate per
            parameter tensor and step, as in Antoniou et al.'s MAML++) or
            ``'per_param'`` (one per parameter element, as in Li et al.'s
            Meta-SGD).
        bn_policy: ``'batch'`` or ``'running'`` (see above).
        vmap: ``None`` (default): chosen per call by shape, vmap for tasks
            of at most ``VMAP_MAX_PIXELS`` pixels and a per-task loop (with
            the fused batch-norm kernel) above; ``True`` / ``False`` force
            one. Both give the same results; vmap needs
            ``bn_policy='batch'`` (``'running'`` always loops).
        zero_head: Kao et al.'s zeroing trick ("MAML is a Noisy Contrastive
            Learner in Classification", ICLR 2022): the linear head is not
            meta-learned; every task starts it at zero, with as many rows
            as the episode has ways, so one model trains and tests at any
            N (e.g. 5-way training, 20- and 35-way tests as in Eshratifar
            et al.'s Table 1).
        test_batch_size: at meta-test, each inner step uses a seeded random
            subset of at most this many support images (class-balanced
            where it divides, i.e. the same number per class when the size
            allows) instead of all of them: many-shot episodes (35-way
            100-shot: 3,500 images) then cost what a few-shot one does, as
            the mini-batch fine-tuning of Nichol et al.'s and Eshratifar et
            al.'s evaluation. ``None``: the whole support set each step.
        test_line_search: at meta-test, halve a step that does not lower
            the step's support loss (:func:`inner_loop`'s backtracking): a
            rate meta-learned on 1-shot tasks then does not overshoot on
            5- or 10-shot ones (docs/meta_learners.md; off by default, the
            behaviour the documented Omniglot results were measured with).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 num_ways: int,
                 num_inner_steps: int = 1,
                 test_num_inner_steps: Optional[int] = None,
                 inner_lr: float = 0.5,
                 adapt: Union[None, str, Sequence[str]] = None,
                 learn_inner_lr: Optional[str] = None,
                 bn_policy: str = 'batch',
                 vmap: Optional[bool] = None,
                 zero_head: bool = False,
                 test_batch_size: Optional[int] = None,
                 test_line_search: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, data_preprocessor, init_cfg)
        name = type(self).__name__
        if bn_policy not in BN_POLICIES:
            raise ValueError(f'{name}: bn_policy must be one of '
                             f'{BN_POLICIES}, got {bn_policy!r}')
        if learn_inner_lr not in (None, *LEARNED_LRS):
            raise ValueError(f'{name}: learn_inner_lr must be None or one '
                             f'of {LEARNED_LRS}, got {learn_inner_lr!r}')
        test_num_inner_steps = test_num_inner_steps or num_inner_steps
        if (learn_inner_lr == 'per_step'
                and test_num_inner_steps != num_inner_steps):
            raise ValueError(f'{name}: per-step learned rates need '
                             'test_num_inner_steps == num_inner_steps')
        self.head = build_n_way_head(head, num_ways, f'{name}: head')
        self.zero_head = zero_head
        if zero_head:
            if type(self.head).__name__ != 'LinearHead':
                raise ValueError(f'{name}: zero_head needs a LinearHead, '
                                 f'got {type(self.head).__name__}')
            if learn_inner_lr == 'per_param':
                raise ValueError(f"{name}: zero_head heads change shape "
                                 "with the ways; learn_inner_lr='per_param'"
                                 ' cannot give them rates')
            self.head.requires_grad_(False)
        if test_batch_size is not None and test_batch_size < 1:
            raise ValueError(f'{name}: test_batch_size must be positive, '
                             f'got {test_batch_size}')
        self.test_batch_size = test_batch_size
        self.test_line_search = test_line_search
        self.num_ways = num_ways
        self.num_inner_steps = num_inner_steps
        self.test_num_inner_steps = test_num_inner_steps
        self.inner_lr = inner_lr
        self.adapt_names = (
            adapt if adapt is None or isinstance(adapt, str) else
            list(adapt))
        self.bn_policy = bn_policy
        self.vmap = vmap
        self._check_bn()
        if bn_policy == 'batch':
            convert_batch_stats_norm(self)
        self.learn_inner_lr = learn_inner_lr
        if learn_inner_lr is not None:
            shared = self.shared_params()
            self.inner_lrs = nn.ParameterDict({
                n.replace('.', '-'): nn.Parameter(
                    torch.full((num_inner_steps, ) if learn_inner_lr ==
                               'per_step' else (1, *shared[n].shape),
                               inner_lr))
                for n in select_params(shared, self.adapt_names)
            })

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
    def shared_params(self, num_ways: Optional[int] = None) -> Params:
        """The weights every task starts from, by name: the meta-learned
        backbone and head; with ``zero_head`` a head of zeros with
        ``num_ways`` rows (default: the configured ``num_ways``)."""
        params = {
            n: p
            for n, p in self.named_parameters()
            if n.startswith(('backbone.', 'head.'))
        }
        if self.zero_head:
            ways = num_ways or self.num_ways
            params.update({
                n: p.new_zeros((ways, *p.shape[1:]))
                for n, p in self.head.named_parameters(prefix='head')
            })
        return params

    def inner_lrs_by_name(self) -> Union[float, Dict[str, Tensor]]:
        """The inner learning rate in :func:`inner_loop`'s format."""
        if self.learn_inner_lr is None:
            return self.inner_lr
        return {k.replace('-', '.'): v for k, v in self.inner_lrs.items()}

    def features_and_logits(self, params: Params,
                            images: Tensor) -> Tuple[Tensor, Tensor]:
        """Backbone features and N-way scores of ``images`` [B, C, H, W]
        with weights ``params``."""
        feats = functional_call(self.backbone,
                                _sub_params(params, 'backbone.'), (images, ))
        return feats, functional_call(self.head, _sub_params(
            params, 'head.'), (feats, ))

    def logits(self, params: Params, images: Tensor) -> Tensor:
        """N-way scores of ``images`` [B, C, H, W] with weights ``params``."""
        return self.features_and_logits(params, images)[1]

    def support_loss(self, params: Params, images: Tensor,
                     labels: Tensor) -> Tensor:
        """The inner-loop loss: mean cross-entropy over the support set."""
        return F.cross_entropy(self.logits(params, images), labels)

    def _support_loss_and_features(self, params: Params, images: Tensor,
                                   labels: Tensor) -> Tuple[Tensor, Tensor]:
        feats, scores = self.features_and_logits(params, images)
        return F.cross_entropy(scores, labels), feats

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
    def fixed_num_ways(self) -> Optional[int]:
        """The configured N, or None with ``zero_head`` (any N)."""
        return None if self.zero_head else self.num_ways

    def adapt_batch(self, episodes: EpisodeSplit, first_order: bool,
                    with_features: bool = False):
        """Fast weights of each task ([T, ...], the adapted ones only) after
        ``num_inner_steps`` steps on its support set from the shared
        weights; with ``with_features``, also the support features
        [T, S, D] that the first step computed at the shared weights
        (differentiable w.r.t. them; each task normalised with its own
        batch statistics).

        The inner steps run in float32 even under bfloat16 autocast
        (:class:`~mmmtl.engine.AutocastOptimWrapper`): with them in bfloat16
        the second-order meta-gradient of the Omniglot reference was 15%
        off float64's (38% with one query per class), with only the query
        evaluation in bfloat16 1.8% (benchmarks/maml_speed.py)."""
        with self._inner_bn(), torch.autocast(
                episodes.support_x.device.type, enabled=False):
            return adapt_tasks(
                self._support_loss_and_features
                if with_features else self.support_loss,
                self.shared_params(episodes.num_ways),
                (episodes.support_x, episodes.support_y),
                num_steps=self.num_inner_steps,
                lr=self.inner_lrs_by_name(),
                adapt=self.adapt_names,
                first_order=first_order,
                vmap=self.use_vmap(episodes.support_x),
                has_aux=with_features)

    def evaluate_batch(self, fast: Params, images: Tensor,
                       labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-task cross-entropy and accuracy (%) of ``images`` [T, B, ...]
        under the fast weights of :meth:`adapt_batch`."""
        shared = {
            n: p
            for n, p in self.shared_params().items() if n not in fast
        }

        def evaluate(fast_t: Params, x: Tensor,
                     y: Tensor) -> Tuple[Tensor, Tensor]:
            scores = self.logits({**shared, **fast_t}, x)
            return (F.cross_entropy(scores, y),
                    (scores.argmax(-1) == y).float().mean() * 100)

        return map_tasks(evaluate, (fast, images, labels),
                         self.use_vmap(images))

    # meta-testing --------------------------------------------------------
    def adapt(self, support: Tensor, labels: Tensor,
              num_ways: int) -> Params:
        self.check_ways(num_ways)
        params = {
            n: p.detach()
            for n, p in self.shared_params(num_ways).items()
        }
        lr = self.inner_lrs_by_name()
        if isinstance(lr, dict):
            lr = {n: v.detach() for n, v in lr.items()}
        batches = list(
            self._test_batches(labels, num_ways, self.test_num_inner_steps))
        adapted = select_params(params, self.adapt_names)
        with self._inner_bn():
            if all(n.startswith('head.') for n in adapted):
                fast = self._finetune_head_only(params, adapted, lr, support,
                                                labels, batches)
            else:
                fast = inner_loop(
                    [
                        partial(self.support_loss, images=support[index],
                                labels=labels[index]) for index in batches
                    ] if self._subsets_support(labels) else partial(
                        self.support_loss, images=support, labels=labels),
                    params,
                    num_steps=self.test_num_inner_steps,
                    lr=lr,
                    adapt=adapted,
                    first_order=True,
                    line_search=self.test_line_search)
        return {n: p.detach() for n, p in fast.items()}

    def _finetune_head_only(self, params: Params, adapted: Sequence[str],
                            lr: Union[float, Dict[str, Tensor]],
                            support: Tensor, labels: Tensor,
                            batches: List[Tensor]) -> Params:
        """:meth:`adapt` when only head weights adapt: the backbone embeds
        the support set once (each step's subset on its own with
        ``test_batch_size``, normalised together as the whole-model steps
        do), then :func:`finetune_head` steps the head on the features."""
        embed = partial(functional_call, self.backbone,
                        _sub_params(params, 'backbone.'))
        with torch.no_grad():
            if self._subsets_support(labels):
                feats = [embed((support[index], )) for index in batches]
                step_labels = [labels[index] for index in batches]
            else:
                feats, step_labels = embed((support, )), labels
        fast = finetune_head(
            self.head,
            _sub_params(params, 'head.'),
            feats,
            step_labels,
            self.test_num_inner_steps,
            _sub_params(lr, 'head.') if isinstance(lr, dict) else lr,
            adapt=[n[len('head.'):] for n in adapted],
            line_search=self.test_line_search)
        return {**params, **{f'head.{n}': p for n, p in fast.items()}}

    def _subsets_support(self, labels: Tensor) -> bool:
        """Whether test inner steps draw subsets of this support set."""
        return (self.test_batch_size is not None
                and self.test_batch_size < len(labels))

    def _test_batches(self, labels: Tensor, num_ways: int,
                      num_steps: int) -> Iterator[Tensor]:
        """Support indices of each test inner step: all of them, or (with
        ``test_batch_size``) a seeded class-balanced random subset."""
        everything = torch.arange(len(labels), device=labels.device)
        if not self._subsets_support(labels):
            for _ in range(num_steps):
                yield everything
            return
        gen = torch.Generator().manual_seed(len(labels))
        per_class = max(self.test_batch_size // num_ways, 1)
        members = [(labels == c).nonzero().flatten().cpu()
                   for c in range(num_ways)]
        for _ in range(num_steps):
            chosen = torch.cat([
                m[torch.randperm(len(m), generator=gen)[:per_class]]
                for m in members
            ])
            yield chosen.to(labels.device)

    def predict_query(self, task_state: Params, query: Tensor) -> Tensor:
        with torch.no_grad():
            return self.logits(task_state, query)
