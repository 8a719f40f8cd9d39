import pytest
import torch
import torch.nn.functional as F
from conftest import scored_episodes

from mmmtl.registry import MODELS


def build(adapter, in_channels=1):
    """A TransferClassifier whose meta-test adapter fine-tunes a new head
    on the frozen features (from the prototypes unless ``adapter`` says
    otherwise)."""
    return MODELS.build(
        dict(
            type='TransferClassifier',
            backbone=dict(
                type='Conv4', in_channels=in_channels, channels=(8, 8, 8,
                                                                  8)),
            head=dict(type='LinearHead', in_channels=8, num_classes=10),
            adapter=dict(
                dict(type='Finetune', adapt='head.',
                     head_init='prototypes'), **adapter)))


def test_loss_is_cross_entropy_over_base_classes():
    torch.manual_seed(0)
    model = build(dict(head=dict(type='LinearHead'), num_steps=1, lr=0.1))
    x = torch.randn(6, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3, 9, 9])
    out = model(x, dict(gt_label=y), mode='loss')
    expected = F.cross_entropy(model.head(model.backbone(x)), y)
    assert torch.allclose(out['loss'], expected)


def test_finetune_equals_explicit_sgd_on_frozen_features():
    torch.manual_seed(0)
    steps, lr = 5, 0.3
    model = build(
        dict(
            head=dict(type='LinearHead', zero_init=True),
            num_steps=steps,
            lr=lr,
            head_init='module'))
    model.eval()
    support = torch.randn(6, 1, 28, 28)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    params = model.adapt(support, labels, num_ways=3)
    with torch.no_grad():
        feats = model.extract_feat(support)
    w = torch.zeros(3, 8, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    for _ in range(steps):
        loss = F.cross_entropy(feats @ w.t() + b, labels)
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= lr * gw
            b -= lr * gb
    assert set(params) == {'head.fc.weight', 'head.fc.bias'}
    assert torch.allclose(params['head.fc.weight'], w, atol=1e-6)
    assert torch.allclose(params['head.fc.bias'], b, atol=1e-6)
    # the backbone is frozen: adapting changes no model parameter
    assert all(p.grad is None for p in model.parameters())


def test_prototype_init_without_steps_is_cosine_nearest_centroid():
    torch.manual_seed(1)
    model = build(
        dict(head=dict(type='CosineHead'), num_steps=0, lr=0.0,
             head_init='prototypes'))
    model.eval()
    support = torch.randn(10, 1, 28, 28)
    labels = torch.arange(5).repeat_interleave(2)
    query = torch.randn(7, 1, 28, 28)
    scores = model.predict_query(model.adapt(support, labels, 5), query)
    with torch.no_grad():
        fs, fq = model.extract_feat(support), model.extract_feat(query)
    protos = torch.stack([fs[labels == c].mean(0) for c in range(5)])
    cos = F.normalize(fq, dim=1) @ F.normalize(protos, dim=1).t()
    assert torch.equal(scores.argmax(1), cos.argmax(1))


def hand_episode_accuracy(model, support, labels, query, truth, steps, lr):
    """Accuracy (%) of one episode by hand: a zero-started linear head
    trained by ``steps`` explicit SGD steps on the frozen support
    features, its correct query predictions counted."""
    with torch.no_grad():
        feats, query_feats = model.backbone(support), model.backbone(query)
    w = torch.zeros(3, feats.shape[1], requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    for _ in range(steps):
        loss = F.cross_entropy(feats @ w.t() + b, labels)
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= lr * gw
            b -= lr * gb
    predicted = (query_feats @ w.t() + b).argmax(1).tolist()
    return 100.0 * sum(p == t for p, t in zip(predicted, truth.tolist())) \
        / len(predicted)


def test_meta_test_reports_episode_accuracy():
    """forward(mode='predict') on 4 episodes (3-way 2-shot 4-query; the
    queries are noisy other drawings of the support classes): each
    episode's accuracy is a hand-trained head's on the queries, which
    differs from scoring the support set or an untrained head."""
    torch.manual_seed(2)
    model = build(dict(head=dict(type='LinearHead', zero_init=True),
                       num_steps=10, lr=0.5, head_init='module'))
    model.eval()
    gen = torch.Generator().manual_seed(3)
    centres = torch.randn(4, 3, 1, 1, 28, 28, generator=gen)
    support = (centres + 0.7 * torch.randn(4, 3, 2, 1, 28, 28,
                                           generator=gen)).flatten(1, 2)
    query = (centres + 1.2 * torch.randn(4, 3, 4, 1, 28, 28,
                                         generator=gen)).flatten(1, 2)
    with torch.no_grad():  # running statistics of these images
        model.train()
        for m in model.backbone.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
        model.backbone(torch.cat([support, query], 1).flatten(0, 1))
        model.eval()
    support_y = torch.arange(3).repeat_interleave(2)
    query_y = torch.arange(3).repeat_interleave(4)
    out = model(
        torch.cat([support, query], dim=1),
        dict(episode_label=torch.cat([support_y, query_y]).repeat(4, 1),
             num_ways=3, num_shots=2, num_queries=4),
        mode='predict')
    expected = [
        hand_episode_accuracy(model, s, support_y, q, query_y, 10, 0.5)
        for s, q in zip(support, query)
    ]
    assert scored_episodes(out) == pytest.approx(expected)
    on_support = [
        hand_episode_accuracy(model, s, support_y, s, support_y, 10, 0.5)
        for s in support
    ]
    untrained = [
        hand_episode_accuracy(model, s, support_y, q, query_y, 0, 0.5)
        for s, q in zip(support, query)
    ]
    assert expected != on_support and expected != untrained
    assert (out[0]['num_ways'], out[0]['num_shots']) == (3, 2)


# The two test-time heads of docs/transfer_baseline.md, as given there on
# the command line of tools/test.py.
LINEAR_SGD_HEAD = [
    'model.adapter.head._delete_=True', 'model.adapter.head.type=LinearHead',
    'model.adapter.head.zero_init=True', 'model.adapter.head_init=module'
]
COSINE_CENTROID_HEAD = ['model.adapter.num_steps=0']


def model_from_command_line(options):
    import os.path as osp

    from mmengine.config import Config

    from conftest import REPO
    from mmmtl.apis.test import parse_args
    config = osp.join(
        REPO, 'configs/transfer/baseline_conv4_1xb128_mini-imagenet_'
        '5way-1shot.py')
    # tools/test.py's parser (its logic lives in mmmtl.apis.test)
    args = parse_args([config, 'unused.pth', '--cfg-options', *options])
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model)
    model.eval()
    return model, cfg.model.adapter


def count_backbone_calls(model):
    calls = []
    model.backbone.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_the_documented_heads_are_those_tested_here():
    from conftest import REPO
    with open(f'{REPO}/docs/transfer_baseline.md') as f:
        docs = f.read()
    for option in LINEAR_SGD_HEAD + COSINE_CENTROID_HEAD:
        assert option in docs


def test_documented_heads_linear_sgd_and_cosine_centroid():
    """Both heads of the docs, selected by --cfg-options on the miniImageNet
    config: the linear head is zero-started SGD on the frozen support
    features (hand-written loop); the centroid head scores 10 x cosine to
    the hand-computed class means. The backbone runs once per episode for
    the support set and once for the queries, not once per step."""
    torch.manual_seed(0)
    support = torch.rand(10, 3, 84, 84) * 255
    labels = torch.arange(5).repeat_interleave(2)
    query = torch.rand(7, 3, 84, 84) * 255

    model, cfg = model_from_command_line(LINEAR_SGD_HEAD)
    assert cfg.head == dict(type='LinearHead', zero_init=True)
    calls = count_backbone_calls(model)
    inputs = model.data_preprocessor(dict(img=support))['inputs']
    params = model.adapt(inputs, labels, num_ways=5)
    assert len(calls) == 1 and cfg.num_steps == 100
    with torch.no_grad():
        feats = model.extract_feat(inputs)
    w = torch.zeros(5, feats.shape[1], requires_grad=True)
    b = torch.zeros(5, requires_grad=True)
    for _ in range(cfg.num_steps):
        loss = F.cross_entropy(feats @ w.t() + b, labels)
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= cfg.lr * gw
            b -= cfg.lr * gb
    torch.testing.assert_close(params['head.fc.weight'], w, atol=1e-5,
                               rtol=1e-4)
    torch.testing.assert_close(params['head.fc.bias'], b, atol=1e-5,
                               rtol=1e-4)

    model, cfg = model_from_command_line(COSINE_CENTROID_HEAD)
    assert cfg.head.type == 'CosineHead' and cfg.head_init == 'prototypes'
    calls = count_backbone_calls(model)
    s = model.data_preprocessor(dict(img=support))['inputs']
    q = model.data_preprocessor(dict(img=query))['inputs']
    scores = model.predict_query(model.adapt(s, labels, 5), q)
    assert len(calls) == 2
    with torch.no_grad():
        fs, fq = model.extract_feat(s), model.extract_feat(q)
    means = torch.stack([fs[2 * c:2 * c + 2].mean(0) for c in range(5)])
    cos = torch.stack([
        torch.stack([torch.dot(x, m) / (x.norm() * m.norm()) for m in means])
        for x in fq
    ])
    torch.testing.assert_close(scores, 10 * cos, atol=1e-5, rtol=1e-5)
    assert torch.equal(scores.argmax(1), cos.argmax(1))


def test_the_old_finetune_cfg_key_names_its_replacement():
    with pytest.raises(ValueError, match=r"finetune_cfg -> adapter=dict\("):
        MODELS.build(
            dict(
                type='TransferClassifier',
                backbone=dict(type='Conv4', in_channels=1),
                head=dict(type='LinearHead', in_channels=64, num_classes=4),
                finetune_cfg=dict(num_steps=3)))
