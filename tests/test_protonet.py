"""ProtoNet: scores are minus squared distances to class means; loss,
meta-test protocol and per-episode batch statistics."""
import pytest
import torch
import torch.nn.functional as F
from conftest import scored_episodes

from mmmtl.models.heads import class_means, neg_sq_distances
from mmmtl.registry import MODELS

WAYS, SHOTS, QUERIES = 3, 2, 2


def build(track_running_stats=True):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='ProtoNet',
            backbone=dict(
                type='Conv4',
                in_channels=1,
                channels=(3, 3),
                track_running_stats=track_running_stats))).double()


def episodes(num_tasks=2):
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(num_tasks, WAYS * (SHOTS + QUERIES), 1, 8, 8,
                         generator=gen, dtype=torch.float64)
    labels = torch.cat([
        torch.arange(WAYS).repeat_interleave(SHOTS),
        torch.arange(WAYS).repeat_interleave(QUERIES)
    ]).repeat(num_tasks, 1)
    return inputs, dict(episode_label=labels, num_ways=WAYS,
                        num_shots=SHOTS, num_queries=QUERIES)


def test_scores_are_negative_squared_distances_to_class_means():
    feats = torch.tensor([[0., 0.], [2., 0.], [1., 1.], [1., 3.]],
                         dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    prototypes = class_means(feats, labels, 2)
    assert torch.equal(prototypes,
                       torch.tensor([[1., 0.], [1., 2.]],
                                    dtype=torch.float64))
    query = torch.tensor([[0., 1.], [3., 3.]], dtype=torch.float64)
    expected = torch.tensor([[-(1 + 1), -(1 + 1)], [-(4 + 9), -(4 + 1)]],
                            dtype=torch.float64)
    assert torch.equal(neg_sq_distances(query, prototypes), expected)


def test_loss_is_mean_query_cross_entropy_over_episodes():
    model = build()
    inputs, samples = episodes()
    out = model.loss(inputs, samples)
    num_support = WAYS * SHOTS
    expected = []
    for x, y in zip(inputs, samples['episode_label']):
        feats = model.extract_feat(x)
        support, query = feats[:num_support], feats[num_support:]
        prototypes = torch.stack(
            [support[y[:num_support] == c].mean(0) for c in range(WAYS)])
        logits = -torch.cdist(query, prototypes).pow(2)
        expected.append(F.cross_entropy(logits, y[num_support:]))
    assert torch.allclose(out['loss'], torch.stack(expected).mean())
    out['loss'].backward()
    assert model.backbone.layers[0][0].weight.grad.abs().sum() > 0


def hand_scores(feats, labels, query_feats, num_ways):
    """Minus squared Euclidean distances of each query feature to each
    class mean, written out element by element."""
    means = []
    for c in range(num_ways):
        members = [f for f, y in zip(feats, labels.tolist()) if y == c]
        means.append(sum(members) / len(members))
    return torch.tensor([[-sum((q[d] - m[d])**2 for d in range(len(q)))
                          for m in means] for q in query_feats],
                        dtype=torch.float64)


def test_meta_test_protocol_and_any_number_of_ways():
    """Scores: minus the squared distances to the support class means
    (computed here from the embedded images); the accuracy of each episode:
    its query images (distinct from the support) counted here."""
    model = build()
    model.eval()
    inputs, samples = episodes()
    results = model(inputs, samples, mode='predict')
    assert len(results) == 2
    num_support = WAYS * SHOTS
    support_scored = []
    accuracies = scored_episodes(results)
    for result, accuracy, x, y in zip(results, accuracies, inputs,
                                      samples['episode_label']):
        with torch.no_grad():  # eval: running statistics, image by image
            feats = model.extract_feat(x)
        state = model.adapt(x[:num_support], y[:num_support], WAYS)
        scores = model.predict_query(state, x[num_support:])
        expected = hand_scores(feats[:num_support], y[:num_support],
                               feats[num_support:], WAYS)
        assert scores.shape == (WAYS * QUERIES, WAYS)
        assert torch.allclose(scores, expected, rtol=1e-10, atol=1e-12)
        predicted = expected.argmax(1).tolist()
        correct = sum(
            p == t for p, t in zip(predicted, y[num_support:].tolist()))
        assert torch.equal(result['pred_score'], scores)
        assert torch.equal(result['gt_label'], y[num_support:])
        assert accuracy == pytest.approx(
            100.0 * correct / (WAYS * QUERIES), abs=1e-4)
        on_support = hand_scores(feats[:num_support], y[:num_support],
                                 feats[:num_support], WAYS).argmax(1)
        support_scored.append(100.0 * (on_support == y[:num_support]
                                       ).double().mean().item())
    assert accuracies != support_scored
    labels = samples['episode_label'][0]
    two_way = model.adapt(inputs[0, :4], labels[:4], 2)
    with torch.no_grad():
        feats = model.extract_feat(inputs[0])
    assert torch.allclose(
        model.predict_query(two_way, inputs[0, 6:]),
        hand_scores(feats[:4], labels[:4], feats[6:], 2),
        rtol=1e-10,
        atol=1e-12)


def test_episodes_are_embedded_separately():
    """Batch statistics per episode: the loss of a meta-batch is the mean of
    its episodes' losses (same result however episodes are grouped)."""
    model = build(track_running_stats=False)
    inputs, samples = episodes(num_tasks=2)
    whole = model.loss(inputs, samples)['loss']
    parts = [
        model.loss(inputs[t:t + 1],
                   dict(samples,
                        episode_label=samples['episode_label'][t:t + 1]))
        ['loss'] for t in range(2)
    ]
    assert torch.allclose(whole, torch.stack(parts).mean())
