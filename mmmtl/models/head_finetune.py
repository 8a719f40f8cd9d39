"""Fine-tuning a classification head on fixed features: the base learner of
Sun et al.'s MTL, the test-time head of the transfer baselines (Chen et al.)
and the head of a head-only MAML at meta-test, all through
:func:`inner_loop` on one functional-head cross-entropy."""
from functools import partial
from typing import Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from .inner_loop import LearningRate, Params, inner_loop

Features = Union[Tensor, Sequence[Tensor]]


def head_cross_entropy(head: nn.Module, params: Params, feats: Tensor,
                       labels: Tensor) -> Tensor:
    """Mean cross-entropy of ``head`` run with weights ``params`` on
    features [B, D] with labels [B]."""
    return F.cross_entropy(functional_call(head, params, (feats, )), labels)


def finetune_head(head: nn.Module,
                  params: Params,
                  feats: Features,
                  labels: Features,
                  num_steps: int,
                  lr: LearningRate,
                  adapt=None,
                  first_order: bool = True,
                  line_search: bool = False) -> Params:
    """The head's weights after ``num_steps`` SGD steps of
    :func:`head_cross_entropy` from ``params``.

    ``feats`` / ``labels`` are the support features [S, D] and labels [S]
    of every step, or one (features, labels) pair per step (mini-batch
    fine-tuning). ``lr``, ``adapt``, ``first_order`` and ``line_search``
    are :func:`inner_loop`'s; ``first_order=False`` keeps the steps
    differentiable (a meta-learned base learner). Runs under
    ``torch.func.vmap`` like :func:`inner_loop`.

    Example:
        >>> import torch
        >>> from mmmtl.models.heads import LinearHead
        >>> head = LinearHead(in_channels=2, num_classes=2, zero_init=True)
        >>> feats = torch.tensor([[1., 0.], [0., 1.]])
        >>> params = {n: p.detach() for n, p in head.named_parameters()}
        >>> fast = finetune_head(head, params, feats, torch.tensor([0, 1]),
        ...                      num_steps=1, lr=1.0)
        >>> fast['fc.weight']  # one step from zero: (onehot - 1/2) / 2
        tensor([[ 0.2500, -0.2500],
                [-0.2500,  0.2500]])
    """
    if isinstance(feats, Tensor):
        loss_fn = partial(head_cross_entropy, head, feats=feats, labels=labels)
    else:
        loss_fn = [
            partial(head_cross_entropy, head, feats=f, labels=y)
            for f, y in zip(feats, labels)
        ]
    return inner_loop(
        loss_fn,
        params,
        num_steps=num_steps,
        lr=lr,
        adapt=adapt,
        first_order=first_order,
        line_search=line_search)
