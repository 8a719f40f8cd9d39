"""The one adaptation routine of mmmtl: k gradient steps on a task loss,
functional (no module surgery, no model copies), used by MAML, Reptile, both
MTLs and test-time fine-tuning; plus its meta-batched form over the tasks of a
meta-batch (``torch.func.vmap``, or a per-task loop)."""
import contextvars
from contextlib import contextmanager
from typing import (Any, Callable, Dict, Iterable, Iterator, Mapping,
                    Sequence, Tuple, Union)

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


def inner_loop(loss_fn: Union[Callable[[Params], Tensor],
                               Sequence[Callable[[Params], Tensor]]],
               params: Mapping[str, Tensor],
               num_steps: int,
               lr: LearningRate,
               adapt=None,
               first_order: bool = False,
               has_aux: bool = False,
               line_search: bool = False) -> Union[Params, Tuple[Params, Any]]:
    """Return the fast parameters after ``num_steps`` SGD steps on
    ``loss_fn``.

    Args:
        loss_fn: maps a full parameter dict to a scalar support loss
            (typically through ``torch.func.functional_call``); or one such
            function per step (e.g. each on its own mini-batch).
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
        has_aux: ``loss_fn`` returns ``(loss, aux)``; the routine then
            returns ``(fast parameters, aux of the first step)``: what the
            loss computed at the shared parameters (e.g. the support
            features), differentiable w.r.t. them, for reuse by the caller.
        line_search: backtracking on the step's own loss: a step whose
            loss is not below the loss before it is halved, up to 6 times,
            then skipped. For test-time fine-tuning (first order, outside
            vmap): it keeps a rate meta-learned for few shots from
            overshooting on many (docs/meta_learners.md).

    Gradients come from ``torch.func.grad`` under a ``torch.func``
    transform, so the routine runs under ``torch.func.vmap`` (a meta-batch
    of tasks at once); elsewhere from ``torch.autograd.grad``, the same
    numbers with less work per operation (the per-task loop). Both run under
    an outer ``torch.no_grad`` (test-time fine-tuning).

    Example:
        >>> import torch
        >>> params = {'w': torch.tensor(1.0), 'b': torch.tensor(0.0)}
        >>> fast = inner_loop(lambda p: (p['w'] + p['b'] - 3) ** 2, params,
        ...                   num_steps=2, lr=0.25, adapt='w')
        >>> fast['w']  # each step halves the distance to 3: 1 -> 2 -> 2.5
        tensor(2.5000)
        >>> fast['b']  # not adapted
        tensor(0.)
    """
    if line_search and not first_order:
        raise ValueError('inner_loop: line_search is for first-order '
                         '(test-time) fine-tuning')
    names = select_params(params, adapt)
    fixed = {n: p for n, p in params.items() if n not in names}
    fast = {n: params[n] for n in names}
    per_step = not callable(loss_fn)
    if per_step and len(loss_fn) < num_steps:
        raise ValueError(f'inner_loop: {len(loss_fn)} step losses for '
                         f'{num_steps} steps')

    def adapted_loss(step: int) -> Callable[[Params], Tensor]:
        fn = loss_fn[step] if per_step else loss_fn
        return lambda adapted: fn({**fixed, **adapted})

    first_aux = None
    if has_aux and num_steps == 0:
        first_aux = adapted_loss(0)(fast)[1]
    # with one loss for every step, the gradient the line search takes at
    # an accepted point is the next step's: computed once
    known = None
    for step in range(num_steps):
        loss = adapted_loss(step)
        if known is not None:
            (grads, value), aux = known, None
        else:
            grads, value, aux = _grad_and_value(loss, fast, has_aux,
                                                first_order)
        if step == 0:
            first_aux = aux
        if first_order:
            grads = {n: g.detach() for n, g in grads.items()}
        rates = {n: _step_lr(lr, step, n) for n in names}
        if not line_search:
            fast = {n: fast[n] - rates[n] * grads[n] for n in names}
            continue
        fast, known = _backtrack(
            loss, fast, grads, rates, value, has_aux,
            with_grads=not per_step and step + 1 < num_steps)
    if has_aux:
        return {**fixed, **fast}, first_aux
    return {**fixed, **fast}


def _grad_and_value(loss: Callable[[Params], Any], fast: Params,
                    has_aux: bool,
                    first_order: bool) -> Tuple[Params, Tensor, Any]:
    """The gradient of ``loss`` at ``fast``, the loss and its aux: by
    ``torch.autograd.grad`` outside any ``torch.func`` transform (cheaper
    per operation), else by ``torch.func.grad_and_value``."""
    if _functorch_active():
        grads, out = torch.func.grad_and_value(loss, has_aux=has_aux)(fast)
        value, aux = out if has_aux else (out, None)
        return grads, value, aux
    differentiable = (not first_order and torch.is_grad_enabled()
                      and any(p.requires_grad for p in fast.values()))
    with torch.enable_grad():
        inputs = {
            n: p if p.requires_grad else p.detach().requires_grad_()
            for n, p in fast.items()
        }
        out = loss(inputs)
        value, aux = out if has_aux else (out, None)
        # the aux (e.g. support features) keeps its graph for the caller
        grads = torch.autograd.grad(
            value, list(inputs.values()),
            retain_graph=differentiable or has_aux,
            create_graph=differentiable)
    return dict(zip(inputs, grads)), value, aux


def _functorch_active() -> bool:
    """Whether a ``torch.func`` transform (vmap, grad, ...) is running."""
    return torch._C._functorch.peek_interpreter_stack() is not None


def _backtrack(loss: Callable[[Params], Tensor],
               fast: Params,
               grads: Params,
               rates: Dict[str, Any],
               value: Tensor,
               has_aux: bool,
               with_grads: bool = False,
               halvings: int = 6) -> Tuple[Params, Any]:
    """The largest of the steps ``rates``, ``rates / 2``, ... (``halvings``
    times) that lowers ``loss`` below ``value``; no step if none does.
    With ``with_grads``, also the gradient and loss at the point returned
    (for a next step on the same loss), else None."""
    scale = 1.0
    for _ in range(halvings + 1):
        candidate = {
            n: (p - scale * rates[n] * grads[n]).detach()
            for n, p in fast.items()
        }
        if with_grads:
            new_grads, new, _ = _grad_and_value(loss, candidate, has_aux,
                                                first_order=True)
        else:
            with torch.no_grad():
                new_grads, new = None, loss(candidate)
            new = new[0] if has_aux else new
        if new < value:
            return candidate, (new_grads, new) if with_grads else None
        scale /= 2
    return fast, (grads, value) if with_grads else None


_TASK_VMAP = contextvars.ContextVar('mmmtl_task_vmap', default=False)


def in_task_vmap() -> bool:
    """Whether the code runs inside :func:`map_tasks`' ``torch.func.vmap``
    (layers such as :class:`BatchStatsNorm` then avoid fused kernels whose
    second derivative is wrong under vmap)."""
    return _TASK_VMAP.get()


@contextmanager
def _task_vmap() -> Iterator[None]:
    token = _TASK_VMAP.set(True)
    try:
        yield
    finally:
        _TASK_VMAP.reset(token)


def _unbind(tree: Any) -> list:
    """The tasks of a tensor, or of a dict / tuple of tensors, as a list.
    ``torch.unbind`` rather than ``tree[t]`` per task: the backward of one
    unbind stacks the T task gradients once, where T selects would each
    fill a zero gradient of the whole stacked tensor (O(T^2) memory
    traffic for the fast weights of a meta-batch)."""
    if isinstance(tree, Tensor):
        return list(torch.unbind(tree))
    if isinstance(tree, Mapping):
        columns = {k: _unbind(v) for k, v in tree.items()}
        return [
            dict(zip(columns, values)) for values in zip(*columns.values())
        ]
    return [type(tree)(values) for values in zip(*map(_unbind, tree))]


def _stack(trees: Sequence[Any]) -> Any:
    """Stack per-task outputs (tensors, dicts or tuples of tensors)."""
    first = trees[0]
    if isinstance(first, Tensor):
        return torch.stack(trees)
    if isinstance(first, Mapping):
        return {k: _stack([t[k] for t in trees]) for k in first}
    return type(first)(_stack(list(v)) for v in zip(*trees))


def map_tasks(fn: Callable[..., Any],
              tasks: Sequence[Any],
              vmap: bool = True) -> Any:
    """Apply ``fn`` to each task of a meta-batch and stack the outputs.

    ``tasks`` are the per-task arguments of ``fn``, each a tensor (or a dict /
    tuple of tensors) whose leading dimension is the task (size T); the
    outputs gain that leading dimension. ``vmap=True`` runs all the tasks at
    once with ``torch.func.vmap``: ``fn`` must then be pure (no in-place
    buffer updates, e.g. batch norm with ``track_running_stats=False``).
    ``vmap=False`` loops over the tasks; both give the same result.
    """
    if vmap:
        with _task_vmap():
            return torch.func.vmap(fn)(*tasks)
    return _stack([fn(*task) for task in _unbind(tuple(tasks))])


def adapt_tasks(loss_fn: Callable[..., Tensor],
                params: Mapping[str, Tensor],
                tasks: Sequence[Any],
                num_steps: int,
                lr: LearningRate,
                adapt=None,
                first_order: bool = False,
                vmap: bool = True,
                has_aux: bool = False) -> Union[Params, Tuple[Params, Any]]:
    """:func:`inner_loop` for each task of a meta-batch, from the same shared
    ``params``.

    Args:
        loss_fn: ``loss_fn(params, *task)``, the support loss of one task.
        params: the shared parameters.
        tasks: per-task arguments of ``loss_fn`` with a leading task dimension
            (e.g. support images [T, S, C, H, W] and labels [T, S]).
        num_steps, lr, adapt, first_order: as in :func:`inner_loop`.
        vmap: batch the tasks with ``torch.func.vmap`` (else loop over them;
            see :func:`map_tasks`).
        has_aux: as in :func:`inner_loop` (the aux gains the task
            dimension).

    Returns:
        The adapted parameters only (those selected by ``adapt``), each with
        a leading task dimension; the others are ``params`` unchanged. With
        ``has_aux``, ``(those parameters, aux)``.
    """
    names = select_params(params, adapt)

    def adapt_one(*task):
        out = inner_loop(lambda p: loss_fn(p, *task), params, num_steps, lr,
                         adapt, first_order, has_aux)
        fast, aux = out if has_aux else (out, None)
        fast = {n: fast[n] for n in names}
        return (fast, aux) if has_aux else fast

    return map_tasks(adapt_one, tasks, vmap)
