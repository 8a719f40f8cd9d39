"""Fine-tuning adaptation: SGD steps on the support cross-entropy, through
the one functional inner loop (:func:`~mmmtl.models.inner_loop.inner_loop`),
on the whole network or on a head over frozen features. The inner loop of
MAML, Reptile and both MTLs in meta-training, and their meta-test."""
import math
from functools import partial
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from mmmtl.registry import MODELS
from ..head_finetune import finetune_head
from ..heads.prototype import class_means
from ..inner_loop import Params, adapt_tasks, inner_loop, select_params
from .base import BaseAdapter

HEAD_INITS = ('meta', 'zero', 'prototypes', 'module')
LEARNED_LRS = ('per_step', 'per_param')
TEST_KEYS = ('num_steps', 'lr', 'batch_size', 'line_search')


def sub_params(params: Params, prefix: str) -> Params:
    """The entries of ``params`` under ``prefix``, without it."""
    return {
        n[len(prefix):]: p
        for n, p in params.items() if n.startswith(prefix)
    }


def _check_steps(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f'Finetune: {key} must be an int >= 0 (0: no '
                         f'step, the start is the task state), got {value!r}')


def _check_lr(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(
            value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f'Finetune: {key} must be a finite number >= 0, '
                         f'got {value!r}')


@MODELS.register_module()
class Finetune(BaseAdapter):
    """SGD on the support cross-entropy of a backbone + N-way head, from a
    chosen start, through the shared inner loop.

    The network is the classifier's backbone followed by a head: the
    classifier's own N-way head (``head=None``: MAML, Reptile, MTL, Sun et
    al.'s base learner) or a new one built from ``head`` for each (feature
    size, N) (the transfer baselines' test head; any embedding). The head
    starts from (``head_init``) the meta-learned weights (``'meta'``), zeros
    with as many rows as the episode has ways (``'zero'``: Kao et al.'s
    zeroing trick, one model for any N), the class means of the support
    features (``'prototypes'``, the head's ``prototype_params``: weight
    imprinting / Proto-MAML) or the new head's own initialisation
    (``'module'``).

    Meta-training (MAML, Reptile, MTL) runs ``num_steps`` steps per task on
    the whole support set (:meth:`adapt_batch`, first or second order, the
    tasks vmapped or looped); ``batch_size`` and ``line_search`` act at
    meta-test only, where ``test_cfg`` may also change ``num_steps`` and
    ``lr``. With ``learn_lr`` the rates are parameters of this module
    (MAML++'s per step, Meta-SGD's per element), learned by the outer loop.

    Args:
        num_steps: SGD steps (0: the start is the task state).
        lr: the SGD rate (the learned rates' start with ``learn_lr``).
        adapt: parameters that move: None (all: backbone and head), a name
            prefix such as ``'head.'`` (the backbone frozen; its features
            are computed once) or a list of names / prefixes.
        head: None (the classifier's N-way head) or a head config without
            ``in_channels`` / ``num_classes`` (set per task).
        head_init: ``'meta'``, ``'zero'``, ``'prototypes'`` or
            ``'module'`` (see above).
        batch_size: at meta-test, each step uses a seeded class-balanced
            random subset of at most this many support images (a 35-way
            100-shot task then costs what a small one does, as Nichol et
            al.'s and Eshratifar et al.'s mini-batch evaluation); None: all.
        line_search: at meta-test, halve a step that does not lower its
            support loss (a rate meta-learned on 1-shot tasks then does not
            overshoot on many shots; docs/meta_learners.md).
        learn_lr: None (fixed ``lr``), ``'per_step'`` or ``'per_param'``.
        test_cfg: meta-test values of ``num_steps``, ``lr``,
            ``batch_size``, ``line_search``.

    Example:
        >>> import torch
        >>> from mmmtl.models import ProtoNet
        >>> model = ProtoNet(backbone=torch.nn.Flatten())  # pixels = feats
        >>> adapter = Finetune(num_steps=1, lr=1.0, adapt='head.',
        ...                    head=dict(type='LinearHead'),
        ...                    head_init='zero')
        >>> support = torch.tensor([[1., 0.], [0., 1.]]).view(2, 2, 1, 1)
        >>> state = adapter.adapt(model, support, torch.tensor([0, 1]), 2)
        >>> state['head.fc.weight']  # one step from zero: (onehot - 1/2)/2
        tensor([[ 0.2500, -0.2500],
                [-0.2500,  0.2500]])

    References:
        Finn et al., "Model-Agnostic Meta-Learning", ICML 2017; Antoniou et
        al., "How to Train Your MAML", ICLR 2019; Li et al., "Meta-SGD",
        2017; Kao et al., "MAML is a Noisy Contrastive Learner in
        Classification", ICLR 2022; Chen et al., "A Closer Look at Few-shot
        Classification", ICLR 2019.
    """

    def __init__(self,
                 num_steps: int = 10,
                 lr: float = 0.01,
                 adapt: Union[None, str, Sequence[str]] = None,
                 head: Optional[dict] = None,
                 head_init: str = 'meta',
                 batch_size: Optional[int] = None,
                 line_search: bool = False,
                 learn_lr: Optional[str] = None,
                 test_cfg: Optional[dict] = None) -> None:
        super().__init__()
        _check_steps(num_steps, 'num_steps')
        _check_lr(lr, 'lr')
        if head_init not in HEAD_INITS:
            raise ValueError(f'Finetune: head_init must be one of '
                             f'{HEAD_INITS}, got {head_init!r}')
        if head_init == 'meta' and head is not None:
            raise ValueError("Finetune: head_init='meta' starts from the "
                             "classifier's own head; a new head (head="
                             f"{head}) starts from 'zero', 'prototypes' or "
                             "'module'")
        if head_init == 'module' and head is None:
            raise ValueError("Finetune: head_init='module' needs a head "
                             'config (the new head whose initialisation '
                             'is the start)')
        if learn_lr not in (None, *LEARNED_LRS):
            raise ValueError(f'Finetune: learn_lr must be None or one of '
                             f'{LEARNED_LRS}, got {learn_lr!r}')
        test_cfg = dict(test_cfg or {})
        unknown = sorted(set(test_cfg) - set(TEST_KEYS))
        if unknown:
            raise ValueError(f'Finetune: test_cfg keys {unknown} unknown; '
                             f'it takes {TEST_KEYS}')
        _check_steps(test_cfg.get('num_steps', num_steps),
                     'test_cfg.num_steps')
        _check_lr(test_cfg.get('lr', lr), 'test_cfg.lr')
        size = test_cfg.get('batch_size', batch_size)
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ValueError(f'Finetune: batch_size must be None or an int '
                             f'>= 1, got {size!r}')
        if learn_lr == 'per_step' and test_cfg.get('num_steps',
                                                   num_steps) != num_steps:
            raise ValueError('Finetune: per-step learned rates need the '
                             'same num_steps at meta-test (test_cfg)')
        self.num_steps = num_steps
        self.lr = float(lr)
        self.adapt_names = (
            adapt if adapt is None or isinstance(adapt, str) else
            list(adapt))
        self.head = None if head is None else dict(head)
        self.head_init = head_init
        self.batch_size = batch_size
        self.line_search = line_search
        self.learn_lr = learn_lr
        self.test_cfg = test_cfg
        # new heads by (feature size, N): structure and initial values only
        # (adaptation is functional); kept out of the state_dict
        self._new_heads: Dict[Tuple[int, int], nn.Module] = {}

    # the network ---------------------------------------------------------
    def setup(self, model: nn.Module) -> None:
        """Create the learned rates (``learn_lr``) for the parameters that
        adapt, from the classifier's start at its configured N."""
        if self.learn_lr is None:
            return
        if self.learn_lr == 'per_param' and self.head_init != 'meta':
            raise ValueError(f"Finetune: head_init={self.head_init!r} heads "
                             "change shape with the ways; learn_lr="
                             "'per_param' cannot give them rates")
        start = self.start_params(model, model.num_ways)
        self.lrs = nn.ParameterDict({
            n.replace('.', '-'): nn.Parameter(
                torch.full((self.num_steps, ) if self.learn_lr ==
                           'per_step' else (1, *start[n].shape), self.lr))
            for n in select_params(start, self.adapt_names)
        })

    def head_module(self, model: nn.Module, in_channels: Optional[int],
                    num_ways: int) -> nn.Module:
        """The head the task's features go through: the classifier's, or
        the new one for (``in_channels``, ``num_ways``)."""
        if self.head is None:
            head = model.n_way_head()
            if head is None:
                raise ValueError(
                    f'Finetune: {type(model).__name__} has no N-way head to '
                    'fine-tune; give the adapter a new one, e.g. head=dict('
                    "type='LinearHead'), head_init='zero'")
            return head
        key = (in_channels, num_ways)
        if key not in self._new_heads:
            self._new_heads[key] = MODELS.build(
                dict(self.head, in_channels=in_channels,
                     num_classes=num_ways))
        return self._new_heads[key].to(model.data_preprocessor.device)

    def fixed_num_ways(self, model: nn.Module) -> Optional[int]:
        """The classifier's N when the head starts from its own weights."""
        if self.head is None and self.head_init == 'meta':
            return model.num_ways
        return None

    def start_params(self,
                     model: nn.Module,
                     num_ways: int,
                     feats: Optional[Tensor] = None,
                     labels: Optional[Tensor] = None) -> Params:
        """Where a task starts, by name: the backbone's weights
        (``backbone.*``) and the head's start (``head.*``). ``feats`` (the
        support features) are needed by a new head (its size) and by
        ``'prototypes'``."""
        if self.head is not None and feats is None:
            raise ValueError('Finetune: a new head needs the support '
                             'features (meta-training uses the classifier\'s '
                             'own head: head=None)')
        head = self.head_module(
            model, None if feats is None else feats.shape[-1], num_ways)
        if self.head_init == 'prototypes':
            if feats is None:
                raise ValueError(
                    "Finetune: head_init='prototypes' needs the support "
                    "features (head-only adaptation, adapt='head.')")
            start = head.prototype_params(
                class_means(feats, labels, num_ways))
        elif self.head_init == 'zero':
            start = {
                n: p.new_zeros((num_ways, *p.shape[1:]))
                for n, p in head.named_parameters()
            }
        elif self.head_init == 'module':
            start = {n: p.detach() for n, p in head.named_parameters()}
        else:
            start = dict(head.named_parameters())
        return {
            **{
                f'backbone.{n}': p
                for n, p in model.backbone.named_parameters()
            },
            **{f'head.{n}': p
               for n, p in start.items()}
        }

    def rates(self, lr: Optional[float] = None, detach: bool = False):
        """The rate(s) in :func:`inner_loop`'s format."""
        if self.learn_lr is None:
            return self.lr if lr is None else lr
        return {
            k.replace('-', '.'): v.detach() if detach else v
            for k, v in self.lrs.items()
        }

    @staticmethod
    def logits(model: nn.Module, head: nn.Module, params: Params,
               images: Tensor) -> Tuple[Tensor, Tensor]:
        """Backbone features and head scores of ``images`` with ``params``
        (``backbone.*`` missing from it: the classifier's own)."""
        backbone = sub_params(params, 'backbone.')
        feats = functional_call(model.backbone, backbone, (images, ))
        return feats, functional_call(head, sub_params(params, 'head.'),
                                      (feats, ))

    def head_only(self, params: Params) -> bool:
        return all(
            n.startswith('head.')
            for n in select_params(params, self.adapt_names))

    # meta-training -------------------------------------------------------
    def adapt_batch(self,
                    model: nn.Module,
                    support_x: Tensor,
                    support_y: Tensor,
                    num_ways: int,
                    first_order: bool,
                    vmap: bool,
                    with_features: bool = False):
        """Fast weights of each task ([T, ...], the adapted ones only)
        after ``num_steps`` steps on its whole support set ([T, S, ...])
        from the shared weights; with ``with_features`` also the support
        features [T, S, D] of the first step at the shared weights
        (differentiable w.r.t. them)."""
        head = self.head_module(model, None, num_ways)

        def loss(params: Params, images: Tensor, labels: Tensor):
            feats, scores = self.logits(model, head, params, images)
            value = F.cross_entropy(scores, labels)
            return (value, feats) if with_features else value

        return adapt_tasks(
            loss,
            self.start_params(model, num_ways), (support_x, support_y),
            num_steps=self.num_steps,
            lr=self.rates(),
            adapt=self.adapt_names,
            first_order=first_order,
            vmap=vmap,
            has_aux=with_features)

    def finetune_features(self,
                          model: nn.Module,
                          feats: Tensor,
                          labels: Tensor,
                          num_ways: int,
                          first_order: bool = True) -> Params:
        """The head of one task after ``num_steps`` steps on support
        features [S, D] (the backbone frozen: Sun et al.'s base learner);
        runs under ``torch.func.vmap``."""
        start = self.start_params(model, num_ways, feats, labels)
        head = self.head_module(model, feats.shape[-1], num_ways)
        fast = finetune_head(
            head, sub_params(start, 'head.'), feats, labels, self.num_steps,
            sub_params(self.rates(), 'head.') if self.learn_lr else self.lr,
            adapt=[
                n[len('head.'):]
                for n in select_params(start, self.adapt_names)
            ],
            first_order=first_order)
        return {f'head.{n}': p for n, p in fast.items()}

    # meta-testing --------------------------------------------------------
    def test_setting(self, key: str):
        """A meta-test setting: ``test_cfg``'s value, else the adapter's."""
        return self.test_cfg.get(key, getattr(self, key))

    def adapt(self, model: nn.Module, support: Tensor, labels: Tensor,
              num_ways: int) -> Params:
        num_steps = self.test_setting('num_steps')
        lr = self.rates(self.test_setting('lr'), detach=True)
        line_search = self.test_setting('line_search')
        batches = self._test_batches(labels, num_ways, num_steps)
        feats = None
        if self.head is not None or self.head_init == 'prototypes':
            with torch.no_grad():
                feats = model.backbone(support)
        start = {
            n: p.detach()
            for n, p in self.start_params(model, num_ways, feats,
                                          labels).items()
        }
        head = self.head_module(
            model, None if feats is None else feats.shape[-1], num_ways)
        adapted = select_params(start, self.adapt_names)
        if self.head_only(start):
            embed = partial(functional_call, model.backbone,
                            sub_params(start, 'backbone.'))
            with torch.no_grad():
                if batches is None:
                    step_feats = embed((support, )) if feats is None \
                        else feats
                    step_labels = labels
                else:  # each subset normalised on its own, as a step
                    step_feats = [embed((support[i], )) for i in batches]
                    step_labels = [labels[i] for i in batches]
            fast = finetune_head(
                head, sub_params(start, 'head.'), step_feats, step_labels,
                num_steps,
                sub_params(lr, 'head.') if isinstance(lr, dict) else lr,
                adapt=[n[len('head.'):] for n in adapted],
                line_search=line_search)
            return {f'head.{n}': p.detach() for n, p in fast.items()}

        def loss(params: Params, images: Tensor, targets: Tensor) -> Tensor:
            return F.cross_entropy(
                self.logits(model, head, params, images)[1], targets)

        fast = inner_loop(
            partial(loss, images=support, targets=labels) if batches is None
            else [
                partial(loss, images=support[i], targets=labels[i])
                for i in batches
            ],
            start,
            num_steps=num_steps,
            lr=lr,
            adapt=adapted,
            first_order=True,
            line_search=line_search)
        return {n: p.detach() for n, p in fast.items()}

    def _test_batches(self, labels: Tensor, num_ways: int,
                      num_steps: int) -> Optional[List[Tensor]]:
        """Support indices of each meta-test step: None (all of them each
        step) or, with ``batch_size`` below the support size, a seeded
        class-balanced random subset per step."""
        size = self.test_setting('batch_size')
        if size is None or size >= len(labels):
            return None
        return list(self._subsets(labels, num_ways, num_steps, size))

    @staticmethod
    def _subsets(labels: Tensor, num_ways: int, num_steps: int,
                 size: int) -> Iterator[Tensor]:
        gen = torch.Generator().manual_seed(len(labels))
        per_class = max(size // num_ways, 1)
        members = [(labels == c).nonzero().flatten().cpu()
                   for c in range(num_ways)]
        for _ in range(num_steps):
            chosen = torch.cat([
                m[torch.randperm(len(m), generator=gen)[:per_class]]
                for m in members
            ])
            yield chosen.to(labels.device)

    def predict(self, model: nn.Module, state: Params,
                query: Tensor) -> Tensor:
        with torch.no_grad():
            backbone = {
                f'backbone.{n}': p
                for n, p in model.backbone.named_parameters()
            }
            params = {**backbone, **state}
            feats = functional_call(model.backbone,
                                    sub_params(params, 'backbone.'),
                                    (query, ))
            head_params = sub_params(params, 'head.')
            num_ways = next(iter(head_params.values())).shape[0]
            head = self.head_module(model, feats.shape[-1], num_ways)
            return functional_call(head, head_params, (feats, ))

    def describe(self) -> str:
        what = 'all' if self.adapt_names is None else self.adapt_names
        head = 'own' if self.head is None else self.head.get('type')
        return (f"Finetune({self.test_setting('num_steps')} steps, lr "
                f"{self.test_setting('lr'):g}, adapt {what}, head {head} "
                f'from {self.head_init})')
