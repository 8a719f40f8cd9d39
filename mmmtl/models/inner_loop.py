"""The one adaptation routine of mmmtl: k gradient steps on a task loss,
functional (no module surgery, no model copies), used by MAML, Reptile, both
MTLs and test-time fine-tuning."""
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor

Params = Dict[str, Tensor]
LearningRate = Union[float, Sequence[float], Tensor, Mapping[str, Tensor]]


def select_params(params: Mapping[str, Tensor],
                  adapt: Union[None, str, Iterable[str],
                               Callable[[str], bool]]) -> Sequence[str]:
    """Names of the parameters to adapt.

    ``adapt``: None (all), a name prefix such as ``'head.'``, a collection of
    names or prefixes, or a predicate on the name.
    """
    if adapt is None:
        names = list(params)
    elif callable(adapt):
        names = [n for n in params if adapt(n)]
    else:
        prefixes = (adapt, ) if isinstance(adapt, str) else tuple(adapt)
        names = [n for n in params if n.startswith(prefixes)]
    if not names:
        raise ValueError(f'no parameter matches adapt={adapt!r}; '
                         f'parameters: {list(params)[:8]}...')
    return names


def _step_lr(lr: LearningRate, step: int, name: str):
    if isinstance(lr, Mapping):  # Meta-SGD / MAML++: learnable rates
        value = lr[name]
        return value[step if value.shape[0] > 1 else 0]
    if isinstance(lr, Tensor):
        return lr[step] if lr.dim() > 0 else lr
    if isinstance(lr, (list, tuple)):
        return lr[step]
    return lr


def inner_loop(loss_fn: Callable[[Params], Tensor],
               params: Mapping[str, Tensor],
               num_steps: int,
               lr: LearningRate,
               adapt=None,
               first_order: bool = False) -> Params:
    """Return the fast parameters after ``num_steps`` SGD steps on
    ``loss_fn``.

    Args:
        loss_fn: maps a full parameter dict to a scalar support loss
            (typically through ``torch.func.functional_call``).
        params: the shared parameters (all of them; those not adapted are
            passed to ``loss_fn`` unchanged).
        num_steps: number of SGD steps.
        lr: a float; a per-step sequence or 1-D tensor; or a dict giving
            each adapted parameter a (learnable) rate tensor whose leading
            dimension is the step (size ``num_steps``, or 1 for all steps)
            followed by dimensions broadcastable to the parameter: [S] for
            MAML++'s per-step rates, [1, *shape] for Meta-SGD.
        adapt: which parameters adapt (see :func:`select_params`).
        first_order: drop second-order terms: the gradient of the returned
            parameters w.r.t. ``params`` is the identity (first-order MAML).
            Otherwise the steps are differentiable (second-order MAML).

    Gradients come from ``torch.func.grad``, so the routine runs under
    ``torch.func.vmap`` (a meta-batch of tasks at once) and under an outer
    ``torch.no_grad`` (test-time fine-tuning).
    """
    names = select_params(params, adapt)
    fixed = {n: p for n, p in params.items() if n not in names}
    fast = {n: params[n] for n in names}

    def adapted_loss(adapted: Params) -> Tensor:
        return loss_fn({**fixed, **adapted})

    grad_fn = torch.func.grad(adapted_loss)
    for step in range(num_steps):
        grads = grad_fn(fast)
        if first_order:
            grads = {n: g.detach() for n, g in grads.items()}
        fast = {
            n: fast[n] - _step_lr(lr, step, n) * grads[n]
            for n in names
        }
    return {**fixed, **fast}
