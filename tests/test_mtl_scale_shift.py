"""Sun et al.'s meta-transfer learning: SS convolutions equal the pretrained
ones at scale 1 / shift 0, pretrained weights stay frozen, the meta-gradient
reaches SS (checked against finite differences), hard-task sampling picks
the worst classes, and load_from of a transfer checkpoint through the
tools."""
import glob
import os.path as osp
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from conftest import (REPO, assert_row_is_the_hand_run, hand_meta_test,
                      random_meta_batch)
from mmmtl.engine import HardTasks
from mmmtl.models.scale_shift import ScaleShiftConv2d, convert_scale_shift
from mmmtl.registry import DATASETS, MODELS
from mmmtl.utils.checkpoint import load_checkpoint_file

from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool

WAYS, SHOTS, QUERIES, TASKS = 3, 2, 2, 2


def build(adapter=None, **kwargs):
    """A float64 MTLScaleShift; ``adapter`` changes keys of its head-only
    Finetune adapter (3 steps at lr 0.3, 5 at meta-test)."""
    torch.manual_seed(0)
    cfg = dict(
        type='MTLScaleShift',
        backbone=dict(type='Conv4', in_channels=1, channels=(3, 3)),
        base_learner=dict(type='LinearHead', in_channels=12),
        num_ways=WAYS,
        adapter=dict(
            dict(type='Finetune', adapt='head.', num_steps=3, lr=0.3,
                 test_cfg=dict(num_steps=5)), **(adapter or {})))
    cfg.update(kwargs)
    model = MODELS.build(cfg).double()
    with torch.no_grad():  # non-trivial pretrained BN statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model


def meta_batch(seed=0):
    return random_meta_batch(WAYS, SHOTS, QUERIES, TASKS, 20, seed)


@pytest.mark.parametrize('scale_mode', ['out', 'out_in'])
def test_identity_ss_equals_the_pretrained_network(scale_mode):
    torch.manual_seed(0)
    pretrained = MODELS.build(
        dict(type='Conv4', in_channels=1, channels=(4, 5))).double().eval()
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
    expected = pretrained(x)
    ss = convert_scale_shift(pretrained, scale_mode)
    convs = [m for m in ss.modules() if isinstance(m, ScaleShiftConv2d)]
    assert len(convs) == 2
    assert convs[1].ss_scale.shape == ((5, 1, 1, 1) if scale_mode == 'out' else
                                       (5, 4, 1, 1))
    assert torch.equal(ss(x), expected)
    with torch.no_grad():
        convs[0].ss_scale.fill_(2.0)
    assert not torch.allclose(ss(x), expected)


@pytest.mark.parametrize('scale_mode', ['out', 'out_in'])
def test_scale_multiplies_the_kernel_and_shift_adds_to_the_bias(scale_mode):
    """Against the pretrained convolution by linearity: scale s[o] (or
    s[o, i]) multiplies output channel o's kernel (its slice for input
    channel i), shift adds to the bias."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    ss = ScaleShiftConv2d.from_conv(conv, scale_mode)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ss.ss_scale.copy_(
            torch.rand(ss.ss_scale.shape, generator=gen,
                       dtype=torch.float64) + 0.5)
        ss.ss_shift.copy_(torch.randn(4, generator=gen, dtype=torch.float64))
    x = torch.randn(2, 3, 5, 5, generator=gen, dtype=torch.float64)
    scale = ss.ss_scale.detach().reshape(4, -1)
    # output channel o, input channel i: the pretrained kernel slice alone
    per_input = torch.stack([
        F.conv2d(x[:, i:i + 1], conv.weight[:, i:i + 1], padding=1)
        for i in range(3)
    ], -1)  # [B, O, H, W, I]
    expected = (per_input * scale.expand(4, 3)[None, :, None, None]).sum(-1)
    expected = expected + (conv.bias + ss.ss_shift.detach()).view(1, 4, 1, 1)
    torch.testing.assert_close(ss(x), expected, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(ss(x), conv(x))


def test_1x1_shortcuts_keep_no_ss():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1))
    convert_scale_shift(net)
    assert isinstance(net[0], ScaleShiftConv2d)
    assert type(net[1]) is nn.Conv2d and not net[1].weight.requires_grad


def test_meta_training_moves_only_ss_and_the_base_learner():
    model = build()
    frozen = {
        n: t.clone()
        for n, t in model.state_dict().items()
        if n.startswith('backbone.') and 'ss_' not in n
    }
    assert any(n.endswith('running_mean') for n in frozen)
    ss = model.ss_parameters()
    assert len(ss) == 4  # scale and shift of two convolutions
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for step in range(3):
        optimizer.zero_grad()
        model.loss(*meta_batch(step))['loss'].backward()
        for name, p in model.named_parameters():
            if name in ss:
                assert p.grad is not None and p.grad.abs().sum() > 0, name
            elif name.startswith('backbone.'):
                assert p.grad is None, name
        optimizer.step()
    for name, value in frozen.items():
        assert torch.equal(model.state_dict()[name], value), name
    moved = {
        n
        for n, p in model.named_parameters()
        if not torch.equal(p.detach(), start[n])
    }
    assert moved == set(ss) | {
        'base_learner.fc.weight', 'base_learner.fc.bias'
    }


@pytest.mark.parametrize('init', ['meta', 'prototypes'])
def test_second_order_meta_gradient_matches_finite_difference(init):
    model = build(adapter=dict(head_init=init))
    model.train()
    loss = model.loss(*meta_batch())['loss']
    params = model.ss_parameters()
    if init == 'meta':
        params.update(model.base_learner.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()))
    gen = torch.Generator().manual_seed(1)
    direction = [
        torch.randn(p.shape, generator=gen, dtype=p.dtype)
        for p in params.values()
    ]
    eps, values = 1e-6, []
    for sign in (1, -1):
        with torch.no_grad():
            for p, d in zip(params.values(), direction):
                p.add_(sign * eps * d)
            values.append(model.loss(*meta_batch())['loss'])
            for p, d in zip(params.values(), direction):
                p.sub_(sign * eps * d)
    numeric = (values[0] - values[1]) / (2 * eps)
    analytic = sum((g * d).sum() for g, d in zip(grads, direction))
    assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_meta_test_adapts_the_base_learner_only():
    model = build().eval()
    inputs, samples = meta_batch()
    support = inputs[0, :WAYS * SHOTS]
    labels = samples['episode_label'][0, :WAYS * SHOTS]
    state = model.adapt(support, labels, WAYS)
    assert set(state) == {'head.fc.weight', 'head.fc.bias'}
    assert not torch.equal(state['head.fc.weight'],
                           model.base_learner.fc.weight.detach())
    scores = model.predict_query(state, inputs[0, WAYS * SHOTS:])
    assert scores.shape == (WAYS * QUERIES, WAYS)
    with pytest.raises(ValueError, match='3-way base learner'):
        model.adapt(support, labels, 5)


def hand_imprinted_cosine(feats, labels, query, steps, lr, scale=10.0):
    """Scores of ``query`` features under a cosine classifier (scale 10)
    whose weights start as the normalised support class means (computed
    here) and take ``steps`` SGD steps on the support cross-entropy."""
    means = torch.stack([
        sum(f for f, y in zip(feats, labels.tolist()) if y == c) /
        labels.tolist().count(c) for c in range(WAYS)
    ])
    weight = means / means.norm(dim=1, keepdim=True)

    def scores(w, f):
        return scale * (f / f.norm(dim=1, keepdim=True)) @ (
            w / w.norm(dim=1, keepdim=True)).t()

    for _ in range(steps):
        w = weight.detach().requires_grad_()
        (grad, ) = torch.autograd.grad(
            F.cross_entropy(scores(w, feats), labels), [w])
        weight = weight.detach() - lr * grad
    return scores(weight, query)


def test_prototype_init_against_a_hand_written_imprinted_cosine_head():
    """Sun et al.'s variant with the transfer baseline's test head (config
    mtl-ss-proto): a cosine base learner imprinted with the support class
    means and fine-tuned, at meta-test (7 steps) and in meta-training (3
    steps, the query loss), against the same written out here; at identity
    SS it is the transfer baseline's meta-test."""
    ss = build(
        base_learner=dict(type='CosineHead', in_channels=12, scale=10.0),
        adapter=dict(head_init='prototypes', num_steps=3, lr=0.5,
                     test_cfg=dict(num_steps=7))).eval()
    inputs, samples = meta_batch()
    ns = WAYS * SHOTS
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():  # non-identity SS
        for p in ss.ss_parameters().values():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        feats = ss.extract_feat(inputs.flatten(0, 1)).unflatten(
            0, inputs.shape[:2])
    labels = samples['episode_label']
    support = inputs[0, :ns]
    query = inputs[0, ns:]
    torch.testing.assert_close(
        ss.predict_query(ss.adapt(support, labels[0, :ns], WAYS), query),
        hand_imprinted_cosine(feats[0, :ns], labels[0, :ns], feats[0, ns:],
                              7, 0.5),
        rtol=1e-9,
        atol=1e-9)
    ss.train()
    expected = sum(
        F.cross_entropy(
            hand_imprinted_cosine(f[:ns], y[:ns], f[ns:], 3, 0.5), y[ns:])
        for f, y in zip(feats, labels)) / TASKS
    assert ss.loss(inputs, samples)['loss'].item() == pytest.approx(
        expected.item(), rel=1e-9)


def test_prototype_init_at_identity_ss_is_the_transfer_baselines_test_head():
    """With SS at scale 1 / shift 0, a cosine base learner imprinted with
    the class means and fine-tuned is the transfer baseline's meta-test."""
    ss = build(
        base_learner=dict(type='CosineHead', in_channels=12, scale=10.0),
        adapter=dict(head_init='prototypes', lr=0.5,
                     test_cfg=dict(num_steps=7))).eval()
    transfer = MODELS.build(
        dict(
            type='TransferClassifier',
            backbone=dict(type='Conv4', in_channels=1, channels=(3, 3)),
            head=dict(type='LinearHead', in_channels=12, num_classes=4),
            adapter=dict(
                type='Finetune',
                adapt='head.',
                head=dict(type='CosineHead', scale=10.0),
                head_init='prototypes',
                num_steps=7,
                lr=0.5))).double().eval()
    transfer.backbone.load_state_dict({
        k: v
        for k, v in ss.backbone.state_dict().items() if 'ss_' not in k
    })
    inputs, samples = meta_batch()
    support = inputs[0, :WAYS * SHOTS]
    labels = samples['episode_label'][0, :WAYS * SHOTS]
    query = inputs[0, WAYS * SHOTS:]
    torch.testing.assert_close(
        ss.predict_query(ss.adapt(support, labels, WAYS), query),
        transfer.predict_query(
            transfer.adapt(support, labels, WAYS), query))


def test_meta_test_takes_test_cfg_num_steps_of_sgd():
    """adapt: the adapter's test_cfg.num_steps (5, not the 3 of training) SGD
    steps of
    the linear base learner from its meta-learned start on the frozen
    support features, written out here."""
    model = build().eval()
    inputs, samples = meta_batch()
    ns = WAYS * SHOTS
    support, labels = inputs[0, :ns], samples['episode_label'][0, :ns]
    with torch.no_grad():
        feats = model.extract_feat(support)

    def hand(steps):
        w = model.base_learner.fc.weight.detach()
        b = model.base_learner.fc.bias.detach()
        for _ in range(steps):
            w, b = w.requires_grad_(), b.requires_grad_()
            gw, gb = torch.autograd.grad(
                F.cross_entropy(feats @ w.t() + b, labels), [w, b])
            w, b = (w - 0.3 * gw).detach(), (b - 0.3 * gb).detach()
        return w, b

    state = model.adapt(support, labels, WAYS)
    weight, bias = hand(5)
    torch.testing.assert_close(state['head.fc.weight'], weight)
    torch.testing.assert_close(state['head.fc.bias'], bias)
    assert not torch.allclose(state['head.fc.weight'], hand(3)[0])


def test_hardest_classes_are_those_with_the_lowest_query_accuracy():
    model = build()
    classes = torch.tensor([[4, 4, 7, 7], [9, 9, 2, 2]])
    correct = torch.tensor([[True, True, False, True],
                            [False, False, True, True]])
    model._record_class_accuracy(classes, correct)
    assert model.class_accuracy == {4: 1.0, 7: 0.5, 9: 0.0, 2: 1.0}
    assert model.hardest_classes(2) == [9, 7]
    assert model.hardest_classes(3) == [9, 7, 2]  # ties: lower label first
    assert model.hardest_classes(5) is None


def test_hard_tasks_train_a_meta_batch_of_the_hardest_classes(
        tiny_omniglot):
    root, _ = tiny_omniglot
    episodes = DATASETS.build(
        dict(
            type='EpisodicDataset',
            num_ways=3,
            num_shots=1,
            num_queries=1,
            num_episodes=100,
            dataset=dict(
                type='Omniglot',
                data_root=root,
                split='train',
                image_size=8,
                pipeline=[dict(type='ImageToTensor', keys=['img'])])))
    model = MODELS.build(
        dict(
            type='MTLScaleShift',
            backbone=dict(type='Conv4', in_channels=1, channels=(3, 3)),
            base_learner=dict(type='LinearHead', in_channels=12),
            num_ways=3,
            adapter=dict(type='Finetune', adapt='head.', num_steps=1)))
    model.class_accuracy = {c: 1.0 for c in range(20)}
    model.class_accuracy.update({5: 0.1, 11: 0.0, 2: 0.3})
    seen = []
    train_step = model.train_step
    model.train_step = lambda data, optim_wrapper: seen.append(data) or (
        train_step(data, optim_wrapper))
    runner = types.SimpleNamespace(
        model=model,
        iter=6,
        train_dataloader=types.SimpleNamespace(dataset=episodes, batch_size=2),
        optim_wrapper=OptimWrapper(
            torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                            lr=0.1)),
        message_hub=MessageHub.get_instance('test_hard_task_hook'))
    assert HardTasks(interval=1).train(runner) is not None
    (batch, ) = seen
    assert batch['img'].shape[:2] == (2, 6)
    for labels, indices in zip(batch['gt_label'], batch['indices']):
        # support then query, each class-major, hardest first; the query
        # images are other drawings of the same classes
        assert labels.tolist() == [11, 5, 2, 11, 5, 2]
        assert not set(indices[:3].tolist()) & set(indices[3:].tolist())
        assert (episodes.dataset.get_gt_labels()[indices] == labels.numpy()
                ).all()
    assert not torch.equal(batch['indices'][0], batch['indices'][1])
    assert 'train/hard_loss' in runner.message_hub.log_scalars
    # the next meta-batch's class accuracy came from the hard tasks
    assert set(model.class_accuracy) == {11, 5, 2}


def test_load_from_a_transfer_checkpoint_and_meta_test(tiny_omniglot,
                                                       tmp_path):
    root, _ = tiny_omniglot
    data = [
        f'val_dataloader.dataset.dataset.data_root={root}',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'val_dataloader.dataset.num_ways=3',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=2',
        'test_dataloader.dataset.num_ways=3',
        'test_dataloader.dataset.num_queries=2',
        'model.backbone.channels=[8,8,8,8]', 'default_hooks.logger.interval=1'
    ]
    pretrain = str(tmp_path / 'pretrain')
    train_tool.main([
        osp.join(
            REPO, 'configs/transfer/'
            'baseline_conv4_1xb128_omniglot_5way-1shot.py'), '--work-dir',
        pretrain, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=8', 'model.head.in_channels=8',
        'model.head.num_classes=20', 'model.adapter.num_steps=3',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2', *data
    ])
    pretrained = load_checkpoint_file(osp.join(pretrain,
                                               'iter_2.pth'))['state_dict']
    config = osp.join(
        REPO, 'configs/mtl-ss/mtl-ss-ht_conv4_1xb2_omniglot_5way-1shot.py')
    work = str(tmp_path / 'ss')
    options = [
        f'load_from={osp.join(pretrain, "iter_2.pth")}',
        f'train_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.dataset.num_ways=3',
        'train_dataloader.dataset.num_queries=2', 'model.num_ways=3',
        'model.base_learner.in_channels=8', 'model.adapter.num_steps=2',
        'model.adapter.test_cfg.num_steps=2', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', *data
    ]
    train_tool.main([config, '--work-dir', work, '--cfg-options', *options])
    # the HT config's hard-task meta-batches ran inside the loop's iterations
    (scalars, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert '"train/hard_loss"' in open(scalars).read()
    state = load_checkpoint_file(osp.join(work, 'iter_2.pth'))['state_dict']
    convs = [
        k for k in pretrained
        if k.startswith('backbone.') and k.endswith('0.weight')
    ]
    assert convs
    for key in pretrained:
        if key.startswith('backbone.'):
            assert torch.equal(state[key], pretrained[key]), key
    assert any(not torch.equal(v, torch.ones_like(v))
               for k, v in state.items() if k.endswith('ss_scale'))
    best = glob.glob(osp.join(work, 'best_accuracy_mean_iter_*.pth'))[0]
    (row, ) = test_tool.main(
        [config, best, '--work-dir', work, '--episodes', '3', '--cfg-options',
         *options])
    assert row['num_ways'] == 3
    assert_row_is_the_hand_run(
        row, hand_meta_test(config, best, options, episodes=3))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match='head_init must be one of'):
        build(adapter=dict(head_init='zeros'))
    # a Finetune start the base learner's inner loop does not take
    with pytest.raises(ValueError, match="from 'meta' or 'prototypes'"):
        build(adapter=dict(head_init='zero'))
    # the old key names its replacement
    with pytest.raises(ValueError, match='base_learner_init -> head_init'):
        build(base_learner_init='prototypes')
    with pytest.raises(ValueError, match='scale_mode must be one of'):
        build(scale_mode='in')
    with pytest.raises(ValueError, match='differs from num_ways'):
        build(base_learner=dict(
            type='LinearHead', in_channels=12, num_classes=5))
