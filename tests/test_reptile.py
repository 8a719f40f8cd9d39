"""Reptile: the update equals a hand-written SGD loop's result, and the
optimizer step applies theta + eps * (mean adapted - theta)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from mmmtl.registry import MODELS

WAYS, SHOTS, TASKS, STEPS, LR = 3, 2, 3, 3, 0.3


def build(dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='Reptile',
        backbone=dict(
            type='Conv4',
            in_channels=1,
            channels=(3, 3),
            track_running_stats=False),
        head=dict(type='LinearHead', in_channels=12),
        num_ways=WAYS,
        adapter=dict(type='Finetune', num_steps=STEPS, lr=LR))
    cfg.update(kwargs)
    return MODELS.build(cfg).to(dtype)


def episodes(dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(TASKS, WAYS * SHOTS, 1, 8, 8, generator=gen,
                         dtype=dtype)
    labels = torch.arange(WAYS).repeat_interleave(SHOTS).repeat(TASKS, 1)
    return inputs, dict(episode_label=labels, num_ways=WAYS,
                        num_shots=SHOTS, num_queries=0)


def hand_written_adaptation(model, inputs, labels):
    """Adapt a copy of the model per task with torch.optim.SGD; return the
    mean adapted parameters, and per task the support loss and the
    accuracy (%, correct images counted here) at the adapted weights."""
    total, losses, accuracies = None, [], []
    for x, y in zip(inputs, labels):
        clone = copy.deepcopy(model)
        optimizer = torch.optim.SGD(clone.parameters(), lr=LR)
        for _ in range(STEPS):
            optimizer.zero_grad()
            F.cross_entropy(clone.head(clone.backbone(x)), y).backward()
            optimizer.step()
        with torch.no_grad():
            logits = clone.head(clone.backbone(x))
        losses.append(F.cross_entropy(logits, y).item())
        correct = sum(
            int(p == t) for p, t in zip(logits.argmax(1).tolist(), y.tolist()))
        accuracies.append(100.0 * correct / len(y))
        params = {n: p.detach() for n, p in clone.named_parameters()}
        total = params if total is None else {
            n: total[n] + params[n] for n in total
        }
    return ({n: p / len(inputs)
             for n, p in total.items()}, losses, accuracies)


def hand_written_mean_adapted(model, inputs, labels):
    return hand_written_adaptation(model, inputs, labels)[0]


@pytest.mark.parametrize('vmap', [True, False])
def test_update_equals_hand_written_sgd(vmap):
    """The gradient handed to the optimizer is theta - mean(phi), phi from a
    hand-written SGD loop per task."""
    model = build(vmap=vmap)
    inputs, samples = episodes()
    model.loss(inputs, samples)['loss'].backward()
    mean_adapted = hand_written_mean_adapted(model, inputs,
                                             samples['episode_label'])
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, p.detach() - mean_adapted[n],
                              atol=1e-12), n


def test_optimizer_step_applies_the_reptile_update():
    model = build(torch.float32)
    inputs, samples = episodes(torch.float32)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    mean_adapted = hand_written_mean_adapted(model, inputs,
                                             samples['episode_label'])
    eps = 0.7
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=eps))
    logs = model.train_step(dict(img=inputs, **samples), wrapper)
    assert torch.isfinite(logs['loss'])
    for n, p in model.named_parameters():
        expected = before[n] + eps * (mean_adapted[n] - before[n])
        assert torch.allclose(p.detach(), expected, atol=1e-6), n


def test_logged_loss_and_accuracy_are_the_support_set_at_adapted_weights():
    """The logged loss (the surrogate's value) and accuracy are the mean
    over the tasks of the support loss and accuracy after the inner loop,
    as a hand-written SGD loop gives them."""
    model = build()
    inputs, samples = episodes()
    out = model.loss(inputs, samples)
    _, losses, accuracies = hand_written_adaptation(
        model, inputs, samples['episode_label'])
    assert out['loss'].item() == pytest.approx(
        sum(losses) / TASKS, rel=1e-10)
    assert out['accuracy'].item() == pytest.approx(  # a float32 mean
        sum(accuracies) / TASKS, abs=1e-4)
    # at the shared weights the support loss is another number
    with torch.no_grad():
        before = [
            F.cross_entropy(model.head(model.backbone(x)), y).item()
            for x, y in zip(inputs, samples['episode_label'])
        ]
    assert sum(before) / TASKS != pytest.approx(sum(losses) / TASKS)


def test_learned_rates_are_rejected():
    with pytest.raises(ValueError, match='adapter.learn_lr=None'):
        build(adapter=dict(type='Finetune', num_steps=STEPS, lr=LR,
                           learn_lr='per_step'))
    # the old key names its replacement
    with pytest.raises(ValueError, match='learn_inner_lr -> learn_lr'):
        build(learn_inner_lr='per_step')
