"""MAML: second-order meta-gradient vs finite differences (also with
Meta-SGD's learned per-element rates), first-order gradient, vmap == loop,
batch-norm policies, learned rates, meta-test against a hand-written SGD
loop and a hand count of the correct queries."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import scored_episodes

from mmmtl.models import MAML
from mmmtl.models.batch_stats_norm import BatchStatsNorm
from mmmtl.registry import MODELS

WAYS, SHOTS, QUERIES, TASKS = 3, 2, 2, 3


def build(bn_policy='batch', adapter=None, **kwargs):
    """A float64 MAML; ``adapter`` changes keys of its Finetune adapter
    (2 steps at lr 0.4)."""
    torch.manual_seed(0)
    cfg = dict(
        type='MAML',
        backbone=dict(
            type='Conv4',
            in_channels=1,
            channels=(3, 3),
            track_running_stats=bn_policy == 'running'),
        head=dict(type='LinearHead', in_channels=12),
        num_ways=WAYS,
        adapter=dict(dict(type='Finetune', num_steps=2, lr=0.4),
                     **(adapter or {})),
        bn_policy=bn_policy)
    cfg.update(kwargs)
    return MODELS.build(cfg).double()


def meta_batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    per_task = WAYS * (SHOTS + QUERIES)
    inputs = torch.randn(TASKS, per_task, 1, 8, 8, generator=gen,
                         dtype=torch.float64)
    labels = torch.cat([
        torch.arange(WAYS).repeat_interleave(SHOTS),
        torch.arange(WAYS).repeat_interleave(QUERIES)
    ]).repeat(TASKS, 1)
    return inputs, dict(episode_label=labels, num_ways=WAYS,
                        num_shots=SHOTS, num_queries=QUERIES)


def support_loss(model, params, images, labels):
    """Mean cross-entropy of ``images`` under the weights ``params``."""
    return F.cross_entropy(model.logits(params, images), labels)


def meta_grads(model):
    model.zero_grad()
    out = model.loss(*meta_batch())
    out['loss'].backward()
    return out['loss'].detach(), {
        n: p.grad.clone() for n, p in model.named_parameters()
    }


@pytest.mark.parametrize('vmap', [True, False])
def test_second_order_meta_gradient_matches_finite_difference(vmap):
    """Both task strategies (vmap with elementwise batch norm; the loop with
    the fused kernel) against central differences."""
    model = build(vmap=vmap)
    assert model.use_vmap(meta_batch()[0]) == vmap
    _, grads = meta_grads(model)
    gen = torch.Generator().manual_seed(3)
    params = dict(model.named_parameters())
    eps = 1e-6
    for _ in range(2):
        direction = {n: torch.randn(p.shape, generator=gen,
                                    dtype=p.dtype)
                     for n, p in params.items()}
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                for n, p in params.items():
                    p.add_(sign * eps * direction[n])
                values.append(model.loss(*meta_batch())['loss'])
                for n, p in params.items():
                    p.sub_(sign * eps * direction[n])
        numeric = (values[0] - values[1]) / (2 * eps)
        analytic = sum((grads[n] * direction[n]).sum() for n in params)
        assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('first_order', [False, True])
def test_vmap_and_loop_give_the_same_meta_gradient(first_order):
    model = build(first_order=first_order, vmap=True)
    loss_vmap, grads_vmap = meta_grads(model)
    model.vmap = False
    loss_loop, grads_loop = meta_grads(model)
    assert torch.allclose(loss_vmap, loss_loop, atol=1e-12)
    for n in grads_vmap:
        assert torch.allclose(grads_vmap[n], grads_loop[n], atol=1e-10), n


def test_first_order_gradient_is_query_gradient_at_fast_weights():
    model = build(first_order=True)
    _, grads = meta_grads(model)
    inputs, samples = meta_batch()
    labels = samples['episode_label']
    num_support = WAYS * SHOTS
    params = {n: p.detach() for n, p in model.shared_params().items()}
    expected = {n: torch.zeros_like(p) for n, p in params.items()}
    for x, y in zip(inputs, labels):
        fast = dict(params)
        for _ in range(2):
            step = torch.func.grad(support_loss, argnums=1)(
                model, fast, x[:num_support], y[:num_support])
            fast = {n: fast[n] - 0.4 * step[n] for n in fast}
        query = torch.func.grad(support_loss, argnums=1)(
                model, fast, x[num_support:], y[num_support:])
        for n in expected:
            expected[n] += query[n] / TASKS
    for n in expected:
        assert torch.allclose(grads[n], expected[n], atol=1e-12), n


def test_batch_policy_uses_pure_batch_norm():
    model = build()
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(isinstance(m, BatchStatsNorm) for m in norms)
    x = torch.randn(6, 3, 4, 4, dtype=torch.float64)
    reference = nn.BatchNorm2d(3, track_running_stats=False).double()
    with torch.no_grad():
        reference.weight.uniform_()
        reference.bias.uniform_()
        norms[0].weight.copy_(reference.weight)
        norms[0].bias.copy_(reference.bias)
    assert torch.allclose(norms[0](x), reference(x), atol=1e-12)


def test_running_policy_trains_with_loop_and_tests_with_running_stats():
    model = build('running')
    assert not model.use_vmap(meta_batch()[0])
    bn = model.backbone.layers[0][1]
    before = bn.running_mean.clone()
    loss, grads = meta_grads(model)
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert bn.track_running_stats
    assert bn.num_batches_tracked.item() == TASKS  # query forwards only
    assert not torch.equal(bn.running_mean, before)
    model.eval()
    inputs, samples = meta_batch()
    results = model(inputs, samples, mode='predict')
    assert len(results) == TASKS
    # non-transductive: a query's scores do not depend on the other queries
    state = model.adapt(inputs[0, :6], samples['episode_label'][0, :6], WAYS)
    query = inputs[0, 6:]
    assert torch.allclose(
        model.predict_query(state, query)[:1],
        model.predict_query(state, query[:1]))


def conv4_head_by_hand(model, params, images):
    """The model's Conv4 + linear head written out with torch.nn.functional,
    batch norm by the layers' running statistics (non-transductive)."""
    x = images
    for i, block in enumerate(model.backbone.layers):
        norm = block[1]
        x = F.conv2d(x, params[f'backbone.layers.{i}.0.weight'],
                     params[f'backbone.layers.{i}.0.bias'], padding=1)
        x = F.batch_norm(x, norm.running_mean, norm.running_var,
                         params[f'backbone.layers.{i}.1.weight'],
                         params[f'backbone.layers.{i}.1.bias'],
                         training=False, eps=norm.eps)
        x = F.max_pool2d(F.relu(x), 2)
    return F.linear(x.flatten(1), params['head.fc.weight'],
                    params['head.fc.bias'])


def test_running_policy_meta_test_by_hand_with_running_statistics():
    """bn_policy='running' at meta-test: test_cfg.num_steps SGD steps on
    the support loss and the query scores, both normalised with the running
    statistics (random ones here), equal a hand computation; the running
    statistics stay as they were."""
    model = build('running', adapter=dict(test_cfg=dict(num_steps=3)))
    gen = torch.Generator().manual_seed(8)
    norms = [block[1] for block in model.backbone.layers]
    with torch.no_grad():
        for norm in norms:
            norm.running_mean.copy_(torch.randn(3, generator=gen) * 0.5)
            norm.running_var.copy_(torch.rand(3, generator=gen) + 0.5)
    stats = [(n.running_mean.clone(), n.running_var.clone()) for n in norms]
    model.eval()
    inputs, samples = meta_batch()
    num_support = WAYS * SHOTS
    support, query = inputs[0, :num_support], inputs[0, num_support:]
    labels = samples['episode_label'][0, :num_support]
    state = model.adapt(support, labels, WAYS)
    fast = {n: p.detach() for n, p in model.shared_params().items()}
    for _ in range(3):
        leaves = {n: p.clone().requires_grad_() for n, p in fast.items()}
        loss = F.cross_entropy(conv4_head_by_hand(model, leaves, support),
                               labels)
        grads = torch.autograd.grad(loss, list(leaves.values()))
        fast = {n: p - 0.4 * g for (n, p), g in zip(fast.items(), grads)}
    for name, p in fast.items():
        assert torch.allclose(state[name], p, atol=1e-12), name
    assert torch.allclose(model.predict_query(state, query),
                          conv4_head_by_hand(model, fast, query),
                          atol=1e-12)
    for norm, (mean, var) in zip(norms, stats):
        assert torch.equal(norm.running_mean, mean)
        assert torch.equal(norm.running_var, var)


def test_bn_policy_must_match_backbone():
    with pytest.raises(ValueError, match='track_running_stats=True'):
        build('running', backbone=dict(type='Conv4', in_channels=1,
                                       channels=(3, 3),
                                       track_running_stats=False))
    with pytest.raises(ValueError, match='bn_policy'):
        build(bn_policy='none')


def distinct_rates(model, seed=6):
    """Give every learned rate its own value (per step and parameter)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for rate in model.adapter.lrs.values():
            rate.copy_(torch.rand(rate.shape, generator=gen,
                                  dtype=rate.dtype) * 0.5 + 0.05)


def rate_of(model, name, step):
    """The learned rate of parameter ``name`` at inner step ``step``:
    MAML++ keeps one per step ([S]), Meta-SGD one for all steps
    ([1, *shape])."""
    rate = model.adapter.lrs[name.replace('.', '-')]
    return rate[step] if model.adapter.learn_lr == 'per_step' else rate[0]


def hand_maml_loss(model, inputs, labels, steps):
    """The MAML++ / Meta-SGD objective unrolled by hand: per task, ``steps``
    differentiable SGD steps, each parameter at its own rate of that
    step, then the query cross-entropy; the mean over the tasks."""
    num_support = WAYS * SHOTS
    shared = model.shared_params()
    total = 0
    for x, y in zip(inputs, labels):
        fast = dict(shared)
        for step in range(steps):
            loss = F.cross_entropy(
                model.logits(fast, x[:num_support]), y[:num_support])
            grads = torch.autograd.grad(
                loss, list(fast.values()), create_graph=True)
            fast = {
                n: p - rate_of(model, n, step) * g
                for (n, p), g in zip(fast.items(), grads)
            }
        total = total + F.cross_entropy(
            model.logits(fast, x[num_support:]), y[num_support:])
    return total / len(inputs)


@pytest.mark.parametrize('mode,shape', [('per_step', (3, )),
                                        ('per_param', (1, 3, 12))])
def test_learned_inner_rates(mode, shape):
    """MAML++ (a rate per step and tensor) and Meta-SGD (a rate per
    element), every rate different: MAML.loss and its gradient w.r.t. the
    weights and the rates equal a hand-unrolled 3-step loop's (float64);
    at meta-test, adapt() equals a hand-written SGD loop at those rates."""
    model = build(adapter=dict(learn_lr=mode, num_steps=3))
    assert set(model.adapter.lrs) == {
        n.replace('.', '-') for n in model.shared_params()}
    assert model.adapter.lrs['head-fc-weight'].shape == shape
    distinct_rates(model)
    loss, grads = meta_grads(model)
    inputs, samples = meta_batch()
    labels = samples['episode_label']
    expected = hand_maml_loss(model, inputs, labels, 3)
    assert torch.allclose(loss, expected, rtol=1e-12)
    params = dict(model.named_parameters())
    hand = torch.autograd.grad(expected, list(params.values()))
    for (name, p), h in zip(params.items(), hand):
        assert torch.allclose(grads[name], h, rtol=1e-9, atol=1e-12), name
    if mode == 'per_step':  # each step's rate has its own gradient
        for name in model.adapter.lrs:
            assert (grads[f'adapter.lrs.{name}'] != 0).all(), name
    # meta-test: plain SGD steps at the learned rate of each step
    model.eval()
    num_support = WAYS * SHOTS
    support, support_y = inputs[0, :num_support], labels[0, :num_support]
    state = model.adapt(support, support_y, WAYS)
    fast = {n: p.detach() for n, p in model.shared_params().items()}
    for step in range(3):
        with torch.enable_grad():
            leaves = {n: p.clone().requires_grad_() for n, p in fast.items()}
            step_grads = torch.autograd.grad(
                F.cross_entropy(model.logits(leaves, support), support_y),
                list(leaves.values()))
        fast = {
            n: p - rate_of(model, n, step).detach() * g
            for (n, p), g in zip(fast.items(), step_grads)
        }
    for name, p in fast.items():
        assert torch.allclose(state[name], p, atol=1e-12), name


def hand_sgd(model, images, labels, steps, lr):
    """A copy of the model trained ``steps`` steps by torch.optim.SGD on
    the mean cross-entropy of ``images``."""
    clone = copy.deepcopy(model)
    optimizer = torch.optim.SGD(clone.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(clone.head(clone.backbone(images)), labels).backward()
        optimizer.step()
    return clone


def percent_correct(net, images, labels):
    """Accuracy (%) of a module on images, counted here."""
    with torch.no_grad():
        predicted = net.head(net.backbone(images)).argmax(1).tolist()
    correct = sum(p == y for p, y in zip(predicted, labels.tolist()))
    return 100.0 * correct / len(predicted)


def test_meta_test_adapts_test_cfg_num_steps_and_scores_the_queries():
    """Each episode: the adapter's test_cfg.num_steps (5, not the 2 of
    training) SGD steps on the support set, then the share of correctly
    classified query images (distinct from the support images)."""
    model = build(adapter=dict(test_cfg=dict(num_steps=5)))
    assert model.adapter.test_setting('num_steps') == 5
    model.eval()
    inputs, samples = meta_batch()
    results = model(inputs, samples, mode='predict')
    assert len(results) == TASKS
    num_support = WAYS * SHOTS
    support_accuracies = []
    accuracies = scored_episodes(results)
    for result, accuracy, x, y in zip(results, accuracies, inputs,
                                      samples['episode_label']):
        adapted = hand_sgd(model, x[:num_support], y[:num_support], 5, 0.4)
        state = model.adapt(x[:num_support], y[:num_support], WAYS)
        for name, p in adapted.named_parameters():
            assert torch.allclose(state[name], p.detach(), atol=1e-10), name
        two_steps = hand_sgd(model, x[:num_support], y[:num_support], 2, 0.4)
        assert not torch.allclose(state['head.fc.weight'],
                                  two_steps.head.fc.weight, atol=1e-3)
        assert torch.equal(result['gt_label'], y[num_support:])
        assert accuracy == pytest.approx(
            percent_correct(adapted, x[num_support:], y[num_support:]))
        assert (result['num_ways'], result['num_shots']) == (WAYS, SHOTS)
        support_accuracies.append(
            percent_correct(adapted, x[:num_support], y[:num_support]))
    # the support set scores otherwise: the queries were scored
    assert accuracies != support_accuracies
    labels = samples['episode_label'][0]
    state = model.adapt(inputs[0, :6], labels[:6], WAYS)
    assert model.predict_query(state, inputs[0, 6:]).shape == (
        WAYS * QUERIES, WAYS)
    with pytest.raises(ValueError, match='3-way head'):
        model.adapt(inputs[0, :6], labels[:6], 5)


@pytest.mark.parametrize('vmap', [True, False])
def test_meta_sgd_meta_gradient_matches_finite_difference(vmap):
    """Meta-SGD (learned per-element inner rates, float64): the
    second-order meta-gradient w.r.t. the weights and the rates against
    central differences, and an inner step multiplies each gradient
    element by its own rate."""
    model = build(adapter=dict(learn_lr='per_param'), vmap=vmap)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # a different rate for every element
        for rate in model.adapter.lrs.values():
            rate.uniform_(0.1, 0.6, generator=gen)
    _, grads = meta_grads(model)
    params = dict(model.named_parameters())
    rate_names = [n for n in params if n.startswith('adapter.lrs.')]
    assert len(rate_names) == len(model.shared_params())
    eps = 1e-6
    for only_rates in (False, True):
        direction = {
            n: torch.randn(p.shape, generator=gen, dtype=p.dtype) *
            (not only_rates or n in rate_names)
            for n, p in params.items()
        }
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                for n, p in params.items():
                    p.add_(sign * eps * direction[n])
                values.append(model.loss(*meta_batch())['loss'])
                for n, p in params.items():
                    p.sub_(sign * eps * direction[n])
        numeric = (values[0] - values[1]) / (2 * eps)
        analytic = sum((grads[n] * direction[n]).sum() for n in params)
        assert abs(numeric) > 1e-4
        assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    # one inner step by hand: fast = w - rate * dL/dw, element by element
    one_step = build(
        adapter=dict(learn_lr='per_param', test_cfg=dict(num_steps=1)))
    with torch.no_grad():
        for rate in one_step.adapter.lrs.values():
            rate.uniform_(0.1, 0.6, generator=gen)
    inputs, samples = meta_batch()
    support, labels = inputs[0, :WAYS * SHOTS], samples['episode_label'][
        0, :WAYS * SHOTS]
    state = one_step.adapt(support, labels, WAYS)
    shared = one_step.shared_params()
    loss = F.cross_entropy(
        one_step.head(one_step.backbone(support)), labels)
    step = torch.autograd.grad(loss, list(shared.values()))
    for (name, p), g in zip(shared.items(), step):
        rate = one_step.adapter.lrs[name.replace('.', '-')][0]
        assert torch.allclose(state[name], p - rate * g, atol=1e-12), name


def test_inner_steps_lower_support_loss():
    model = build(adapter=dict(num_steps=3))
    inputs, samples = meta_batch()
    episodes = model.split_episodes(inputs, samples)
    support, labels = episodes.support_x, episodes.support_y
    with torch.no_grad():
        fast = model.adapt_batch(episodes, first_order=True)
        after, _ = model.evaluate_batch(fast, support, labels)
        before = torch.stack([
            F.cross_entropy(model.logits(model.shared_params(), x), y)
            for x, y in zip(support, labels)
        ])
    assert (after < before).all()
    assert isinstance(model, MAML)


def test_automatic_task_batching_follows_the_task_size():
    """vmap=None (the default) vmaps small tasks and loops over large ones
    (by pixels per task), with the same meta-gradient as either forced
    strategy."""
    from mmmtl.models.classifiers.gradient_meta_learner import \
        VMAP_MAX_PIXELS
    model = build()
    assert model.vmap is None
    assert model.use_vmap(torch.zeros(2, 16, 1, 28, 28))
    assert not model.use_vmap(torch.zeros(2, 17, 1, 28, 28))
    assert model.use_vmap(torch.zeros(2, 5, 3, 32, 32))
    assert not model.use_vmap(torch.zeros(2, 5, 3, 84, 84))
    assert VMAP_MAX_PIXELS == 16 * 28 * 28
    loss_auto, grads_auto = meta_grads(model)
    model.vmap = False
    loss_loop, grads_loop = meta_grads(model)
    assert torch.allclose(loss_auto, loss_loop, atol=1e-12)
    for n in grads_auto:
        assert torch.allclose(grads_auto[n], grads_loop[n], atol=1e-10), n


def test_zero_head_trains_and_tests_at_any_number_of_ways():
    """Kao et al.'s zeroing trick: the head is not meta-learned, each task
    starts it at zero with as many rows as its ways; after one step from
    zero its weights are lr / S * (onehot - 1/N)^T @ features (the
    gradient of the mean cross-entropy at uniform scores), computed here by
    hand from the backbone's support features."""
    model = build(adapter=dict(head_init='zero', num_steps=1))
    assert model.fixed_num_ways() is None
    inputs, samples = meta_batch()  # 3-way episodes, head configured 3-way
    out = model.loss(inputs, samples)
    out['loss'].backward()
    assert all(p.grad is None for p in model.head.parameters())
    assert all(p.grad is not None for p in model.backbone.parameters())
    # meta-test at 4 ways: a head of 4 rows, one step from zero
    gen = torch.Generator().manual_seed(5)
    ways, shots = 4, 2
    support = torch.randn(ways * shots, 1, 8, 8, generator=gen,
                          dtype=torch.float64)
    labels = torch.arange(ways).repeat_interleave(shots)
    state = model.adapt(support, labels, ways)
    assert state['head.fc.weight'].shape == (ways, 12)
    with torch.no_grad():
        feats = model.backbone(support)
    onehot = F.one_hot(labels, ways).double()
    lr = model.adapter.lr
    expected_w = lr / len(labels) * (onehot - 1 / ways).t() @ feats
    expected_b = lr / len(labels) * (onehot - 1 / ways).sum(0)
    assert torch.allclose(state['head.fc.weight'], expected_w, atol=1e-12)
    assert torch.allclose(state['head.fc.bias'], expected_b, atol=1e-12)
    assert model.predict_query(state, support).shape == (ways * shots, ways)


def test_batch_size_draws_seeded_class_balanced_subsets():
    model = build(adapter=dict(batch_size=6, test_cfg=dict(num_steps=3)))
    labels = torch.arange(3).repeat_interleave(10)
    batches = model.adapter._test_batches(labels, 3, 3)
    assert len(batches) == 3
    for index in batches:
        assert len(index) == 6 and len(set(index.tolist())) == 6
        assert torch.bincount(labels[index], minlength=3).tolist() == [2] * 3
    again = model.adapter._test_batches(labels, 3, 3)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    assert not all(torch.equal(batches[0], b) for b in batches[1:])
    # a support set no larger than the batch is used whole, every step:
    # the same task state as without batch_size
    small = torch.arange(3).repeat_interleave(2)
    assert model.adapter._test_batches(small, 3, 3) is None
    support = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(
        1), dtype=torch.float64)
    whole = build(adapter=dict(test_cfg=dict(num_steps=3)))
    state, expected = (m.adapt(support, small, 3) for m in (model, whole))
    assert state.keys() == expected.keys()
    for n in state:
        assert torch.equal(state[n], expected[n]), n


def test_batch_size_adapts_on_the_drawn_subsets():
    """adapt() with the adapter's batch_size equals a hand-run inner loop
    whose step k sees exactly the k-th drawn subset."""
    model = build(adapter=dict(batch_size=6, test_cfg=dict(num_steps=2)))
    gen = torch.Generator().manual_seed(2)
    support = torch.randn(30, 1, 8, 8, generator=gen, dtype=torch.float64)
    labels = torch.arange(3).repeat_interleave(10)
    state = model.adapt(support, labels, 3)
    params = {n: p.detach() for n, p in model.shared_params().items()}
    for index in model.adapter._test_batches(labels, 3, 2):
        params = {n: p.requires_grad_() for n, p in params.items()}
        loss = support_loss(model, params, support[index], labels[index])
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {
            n: (p - model.adapter.lr * g).detach()
            for (n, p), g in zip(params.items(), grads)
        }
    assert state.keys() == params.keys()
    for n in params:
        assert torch.allclose(state[n], params[n], atol=1e-12), n


def test_line_search_keeps_the_support_loss_from_rising():
    """An inner rate far too large for the support set: plain fine-tuning
    raises the support loss, backtracking lowers it at every step."""
    gen = torch.Generator().manual_seed(4)
    support = torch.randn(12, 1, 8, 8, generator=gen, dtype=torch.float64)
    labels = torch.arange(3).repeat_interleave(4)
    start = build(adapter=dict(lr=10.0, test_cfg=dict(num_steps=3)))
    before = support_loss(
        start, {n: p.detach() for n, p in start.shared_params().items()},
        support, labels).item()
    for search in (False, True):
        model = build(adapter=dict(lr=10.0, test_cfg=dict(num_steps=3),
                                   line_search=search))
        state = model.adapt(support, labels, 3)
        after = support_loss(model, state, support, labels).item()
        assert (after < before) == search, (search, before, after)
