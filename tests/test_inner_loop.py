"""inner_loop / adapt_tasks / map_tasks: second- and first-order gradients,
parameter selection, learned rates, vmap == loop (float64, tiny nets)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from mmmtl.models import adapt_tasks, inner_loop, map_tasks
from mmmtl.models.batch_stats_norm import BatchStatsNorm


def tiny_net(norm: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(4, 5)]
    if norm:
        layers.append(BatchStatsNorm(5))
    layers += [nn.Tanh(), nn.Linear(5, 3)]
    return nn.Sequential(*layers).double()


def make_tasks(num_tasks=3, size=6):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(num_tasks, 2 * size, 4, generator=gen,
                    dtype=torch.float64)
    y = torch.randint(0, 3, (num_tasks, 2 * size), generator=gen)
    return x[:, :size], y[:, :size], x[:, size:], y[:, size:]


def loss_of(net):
    def loss(params, x, y):
        return F.cross_entropy(functional_call(net, params, (x, )), y)
    return loss


def meta_objective(net, params, tasks, steps=2, lr=0.3, first_order=False,
                   adapt=None, vmap=False):
    sx, sy, qx, qy = tasks
    loss = loss_of(net)
    fast = adapt_tasks(loss, params, (sx, sy), steps, lr, adapt,
                       first_order, vmap)
    return map_tasks(lambda f, x, y: loss({**params, **f}, x, y),
                     (fast, qx, qy), vmap).mean()


def directional_fd(fn, params, direction, eps=1e-6):
    plus = {n: p + eps * direction[n] for n, p in params.items()}
    minus = {n: p - eps * direction[n] for n, p in params.items()}
    return (fn(plus) - fn(minus)) / (2 * eps)


@pytest.mark.parametrize('norm', [False, True])
@pytest.mark.parametrize('vmap', [False, True])
def test_second_order_gradient_matches_finite_difference(norm, vmap):
    net = tiny_net(norm)
    params = {n: p.detach().clone().requires_grad_()
              for n, p in net.named_parameters()}
    tasks = make_tasks()
    grads = torch.autograd.grad(
        meta_objective(net, params, tasks, vmap=vmap), list(params.values()))
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        direction = {n: torch.randn(p.shape, generator=gen,
                                    dtype=p.dtype)
                     for n, p in params.items()}
        with torch.no_grad():
            numeric = directional_fd(
                lambda p: meta_objective(net, p, tasks, vmap=vmap), params,
                direction)
        analytic = sum((g * direction[n]).sum()
                       for g, n in zip(grads, params))
        assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_first_order_gradient_is_query_gradient_at_fast_weights():
    net = tiny_net()
    params = {n: p.detach().clone().requires_grad_()
              for n, p in net.named_parameters()}
    tasks = make_tasks()
    grads = torch.autograd.grad(
        meta_objective(net, params, tasks, first_order=True),
        list(params.values()))
    loss = loss_of(net)
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    sx, sy, qx, qy = tasks
    for t in range(len(sx)):
        fast = {n: p.detach().clone() for n, p in params.items()}
        for _ in range(2):  # hand-written SGD on the support loss
            step = torch.func.grad(loss)(fast, sx[t], sy[t])
            fast = {n: fast[n] - 0.3 * step[n] for n in fast}
        query_grad = torch.func.grad(loss)(fast, qx[t], qy[t])
        for n in expected:
            expected[n] += query_grad[n] / len(sx)
    for g, n in zip(grads, params):
        assert torch.allclose(g, expected[n], atol=1e-12)


def test_adapt_subset_and_fixed_parameters():
    net = tiny_net()
    params = dict(net.named_parameters())
    sx, sy, _, _ = make_tasks(num_tasks=1)
    fast = inner_loop(lambda p: loss_of(net)(p, sx[0], sy[0]), params, 3,
                      0.5, adapt='2.')
    assert fast['0.weight'] is params['0.weight']
    assert not torch.equal(fast['2.weight'], params['2.weight'])
    batched = adapt_tasks(loss_of(net), params, (sx, sy), 3, 0.5, ['2.'])
    assert set(batched) == {'2.weight', '2.bias'}
    assert torch.allclose(batched['2.weight'][0], fast['2.weight'])
    with pytest.raises(ValueError, match='no parameter matches'):
        inner_loop(lambda p: p['0.bias'].sum(), params, 1, 0.1, 'head.')


def hand_unrolled_objective(net, params, rate_at, tasks, steps):
    """The meta-objective written out: per task, ``steps`` differentiable
    SGD steps ``w <- w - rate_at(name, step) * dL/dw`` on the support loss,
    then the query loss; the mean over the tasks."""
    sx, sy, qx, qy = tasks
    total = 0
    for t in range(len(sx)):
        fast = dict(params)
        for step in range(steps):
            loss = F.cross_entropy(functional_call(net, fast, (sx[t], )),
                                   sy[t])
            grads = torch.autograd.grad(
                loss, list(fast.values()), create_graph=True)
            fast = {
                n: p - rate_at(n, step) * g
                for (n, p), g in zip(fast.items(), grads)
            }
        total = total + F.cross_entropy(
            functional_call(net, fast, (qx[t], )), qy[t])
    return total / len(sx)


@pytest.mark.parametrize('form', ['per_step', 'per_param', 'both'])
def test_learned_rates_differ_per_step_and_parameter_as_a_hand_loop(form):
    """Learned rates (MAML++: [S] per tensor; Meta-SGD: [1, *shape]; both:
    [S, *shape]), each step and parameter its own value: the objective and
    its gradients w.r.t. the weights and every rate equal a hand-unrolled
    loop's that indexes the rate of each step explicitly (float64), and
    central differences along a random direction of the rates."""
    steps = 3
    net = tiny_net()
    params = {n: p.detach().clone().requires_grad_()
              for n, p in net.named_parameters()}
    tasks = make_tasks()
    gen = torch.Generator().manual_seed(4)
    shape = dict(per_step=lambda p: (steps, ),
                 per_param=lambda p: (1, *p.shape),
                 both=lambda p: (steps, *p.shape))[form]
    rates = {
        n: (torch.rand(shape(p), generator=gen, dtype=torch.float64) * 0.5
            + 0.05).requires_grad_()
        for n, p in params.items()
    }

    def rate_at(name, step):
        return rates[name][0 if form == 'per_param' else step]

    objective = meta_objective(net, params, tasks, steps=steps, lr=rates)
    expected = hand_unrolled_objective(net, params, rate_at, tasks, steps)
    assert torch.allclose(objective, expected, rtol=1e-12)
    inputs = [*params.values(), *rates.values()]
    grads = torch.autograd.grad(objective, inputs)
    hand = torch.autograd.grad(expected, inputs)
    for g, h in zip(grads, hand):
        assert torch.allclose(g, h, rtol=1e-9, atol=1e-12)
    # every step's rate moves the objective (a step-0 rate for all steps
    # would leave the later ones without gradient)
    if form != 'per_param':
        for n, g in zip(params, grads[len(params):]):
            assert (g.flatten(1) if g.dim() > 1 else g[:, None]).abs().sum(
                1).min() > 0, n
    direction = {n: torch.randn(r.shape, generator=gen, dtype=r.dtype)
                 for n, r in rates.items()}
    with torch.no_grad():
        numeric = directional_fd(
            lambda r: meta_objective(net, params, tasks, steps=steps, lr=r),
            rates, direction)
    analytic = sum((g * direction[n]).sum()
                   for g, n in zip(grads[len(params):], rates))
    assert abs(numeric) > 1e-4
    assert torch.allclose(analytic, numeric, rtol=1e-6)


def test_vmap_and_loop_agree_and_no_grad_works():
    net = tiny_net(norm=True)
    params = dict(net.named_parameters())
    sx, sy, _, _ = make_tasks()
    loop = adapt_tasks(loss_of(net), params, (sx, sy), 2, 0.3, vmap=False)
    batched = adapt_tasks(loss_of(net), params, (sx, sy), 2, 0.3, vmap=True)
    for n in params:
        assert batched[n].shape == (3, *params[n].shape)
        assert torch.allclose(loop[n], batched[n], atol=1e-12)
    with torch.no_grad():
        fast = adapt_tasks(loss_of(net), params, (sx, sy), 2, 0.3)
    assert not fast['0.weight'].requires_grad
    assert torch.allclose(fast['0.weight'], loop['0.weight'])


@pytest.mark.parametrize('shape', [(6, 5), (6, 5, 3, 3)])
def test_batch_stats_norm_equals_batch_norm_in_and_outside_vmap(shape):
    """Both BatchStatsNorm paths (elementwise under the tasks' vmap, the
    fused kernel elsewhere) equal nn.BatchNorm without running statistics,
    per task, for [B, C] and [B, C, H, W] inputs."""
    torch.manual_seed(0)
    norm = BatchStatsNorm(5).double()
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    reference = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(
        5, track_running_stats=False).double()
    reference.load_state_dict(norm.state_dict())
    x = torch.randn(3, *shape, dtype=torch.float64) * 3 + 1
    expected = torch.stack([reference(t) for t in x])
    for vmap in (True, False):
        out = map_tasks(norm, (x, ), vmap)
        assert torch.allclose(out, expected, atol=1e-12), vmap


def test_line_search_halves_steps_that_overshoot():
    """f(w) = w^2 / 2 at lr 3: a plain step maps w to -2w (loss x4);
    backtracking takes lr 1.5 (w -> -w / 2, loss / 4) instead; at the
    minimum no step lowers the loss and w stays."""
    def loss(p):
        return 0.5 * (p['w']**2).sum()

    w = torch.tensor([1.0], dtype=torch.float64)
    plain = inner_loop(loss, {'w': w}, 2, 3.0, first_order=True)
    assert plain['w'].item() == pytest.approx(4.0)
    searched = inner_loop(loss, {'w': w}, 2, 3.0, first_order=True,
                          line_search=True)
    assert searched['w'].item() == pytest.approx(0.25)
    at_min = inner_loop(loss, {'w': torch.zeros(1)}, 3, 3.0,
                        first_order=True, line_search=True)
    assert at_min['w'].item() == 0.0
    with pytest.raises(ValueError, match='first-order'):
        inner_loop(loss, {'w': w}, 1, 3.0, line_search=True)


def test_line_search_computes_each_point_once_with_one_loss():
    """With one loss for every step, the gradient the line search took at
    an accepted point is the next step's: the same fast weights as the same
    loss given once per step (which evaluates every point again), with
    fewer evaluations. A quartic with a rate that overshoots at first, so
    some candidates are rejected."""
    calls = []

    def loss(p):
        calls.append(1)
        return (p['w']**4).sum() + (p['w'] * p['v']).sum()

    gen = torch.Generator().manual_seed(0)
    params = {
        'w': torch.randn(3, generator=gen, dtype=torch.float64) * 2,
        'v': torch.randn(3, generator=gen, dtype=torch.float64)
    }
    once = inner_loop(loss, params, 6, 0.3, first_order=True,
                      line_search=True)
    n_once = len(calls)
    calls.clear()
    per_step = inner_loop([loss] * 6, params, 6, 0.3, first_order=True,
                          line_search=True)
    n_per_step = len(calls)
    for name in params:
        assert torch.equal(once[name], per_step[name]), name
    # per step: one evaluation at the point, then the candidates; with one
    # loss, the point's evaluation of steps 2..6 is the accepted candidate
    assert n_once == n_per_step - 5
    assert not torch.equal(once['w'], params['w'])


def test_per_step_losses():
    """A list of losses: step k descends the k-th (by hand: w - lr * dk)."""
    w = torch.tensor([2.0], dtype=torch.float64)
    losses = [lambda p: (3 * p['w']).sum(), lambda p: (p['w']**2).sum()]
    fast = inner_loop(losses, {'w': w}, 2, 0.1)
    # step 1: 2 - 0.1 * 3 = 1.7; step 2: 1.7 - 0.1 * 2 * 1.7 = 1.36
    assert fast['w'].item() == pytest.approx(1.36)
    with pytest.raises(ValueError, match='1 step losses for 2 steps'):
        inner_loop(losses[:1], {'w': w}, 2, 0.1)
