"""MTL (Eshratifar et al.): the gradient is (1 - beta) times a hand-written
meta objective's (MAML, first-order MAML, ProtoNet) or Reptile update plus
beta times a hand-written transfer cross-entropy's; one step moves the
weights by exactly the weighted average of the two branches' updates
computed by standalone MAML / Reptile / ProtoNet and transfer models; beta =
0 and 1 reduce to the branches; shared backbone stored once;
custom_imports plug-ins."""
import copy
import os.path as osp
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from conftest import REPO, random_meta_batch
from mmmtl.registry import MODELS
from mmmtl.utils.checkpoint import load_checkpoint_file

from mmmtl.apis import train as train_tool
from test_resume import tiny_config  # noqa: E402

WAYS, SHOTS, QUERIES, TASKS, CLASSES = 3, 2, 2, 2, 7
BACKBONE = dict(
    type='Conv4', in_channels=1, channels=(3, 3), track_running_stats=False)
HEAD = dict(type='LinearHead', in_channels=12)
META_BRANCHES = dict(
    maml=dict(
        type='MAML',
        head=HEAD,
        num_ways=WAYS,
        adapter=dict(type='Finetune', num_steps=2, lr=0.4)),
    fomaml=dict(
        type='MAML',
        head=HEAD,
        num_ways=WAYS,
        adapter=dict(type='Finetune', num_steps=2, lr=0.4),
        first_order=True),
    reptile=dict(
        type='Reptile',
        head=HEAD,
        num_ways=WAYS,
        adapter=dict(type='Finetune', num_steps=3, lr=0.3)),
    protonet=dict(type='ProtoNet'))
TRANSFER = dict(
    type='TransferClassifier', head=dict(HEAD, num_classes=CLASSES))


def build_mtl(meta='maml', beta=0.3, share_features=True):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MTL',
            backbone=BACKBONE,
            meta_branch=META_BRANCHES[meta],
            transfer_branch=TRANSFER,
            beta=beta,
            share_features=share_features)).double()


def standalone(branch_cfg, mtl, branch_name):
    """The branch as a model of its own, with the MTL model's weights."""
    model = MODELS.build(dict(branch_cfg, backbone=BACKBONE)).double()
    prefix = f'{branch_name}.'
    state = {
        k[len(prefix):]: v
        for k, v in mtl.state_dict().items() if k.startswith(prefix)
    }
    state.update({
        k: v
        for k, v in mtl.state_dict().items() if k.startswith('backbone.')
    })
    model.load_state_dict(state)
    return model


def meta_batch(seed=0):
    return random_meta_batch(WAYS, SHOTS, QUERIES, TASKS, CLASSES, seed)


def sgd_step(model, loss_fn=None):
    """Parameter changes of one SGD (lr 1) step on the model's loss (or on
    ``loss_fn(model)``)."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    optimizer.zero_grad()
    if loss_fn is None:
        model.loss(*meta_batch())['loss'].backward()
    else:
        loss_fn(model).backward()
    optimizer.step()
    return {n: p.detach() - before[n] for n, p in model.named_parameters()}


def per_task_transfer_loss(meta):
    """The transfer loss on shared features, written out: the images each
    task's first inner step embeds (MAML, Reptile: the support set;
    ProtoNet: the whole episode), each task embedded on its own (its own
    batch statistics), one cross-entropy over all of them."""
    def loss(model):
        inputs, samples = meta_batch()
        count = inputs.shape[1] if meta == 'protonet' else WAYS * SHOTS
        logits = torch.cat([
            model.head(model.backbone(task[:count])) for task in inputs
        ])
        labels = samples['gt_label'][:, :count].flatten()
        return torch.nn.functional.cross_entropy(logits, labels)
    return loss


def maml_scores(mtl, weights, images):
    """The meta branch's N-way scores under ``weights`` (backbone through
    functional_call, the linear head written out)."""
    backbone = {
        n[len('backbone.'):]: v
        for n, v in weights.items() if n.startswith('backbone.')
    }
    feats = functional_call(mtl.backbone, backbone, (images, ))
    return feats @ weights['head.fc.weight'].t() + weights['head.fc.bias']


def hand_meta_objective(mtl, meta, inputs, labels):
    """The meta branch's objective written out: MAML / first-order MAML (2
    SGD steps of lr 0.4 on the support cross-entropy, then the query
    cross-entropy) or ProtoNet (query cross-entropy over minus squared
    distances to the support class means), mean over the tasks."""
    num_support = WAYS * SHOTS
    total = 0
    for x, y in zip(inputs, labels):
        sy, qy = y[:num_support], y[num_support:]
        if meta == 'protonet':
            feats = mtl.backbone(x)  # an episode is embedded at once
            means = torch.stack([
                feats[:num_support][sy == c].mean(0) for c in range(WAYS)
            ])
            scores = -((feats[num_support:, None] - means[None])**2).sum(-1)
            total = total + F.cross_entropy(scores, qy) / TASKS
            continue
        fast = {f'backbone.{n}': p for n, p in mtl.backbone.named_parameters()}
        fast.update({
            f'head.{n}': p
            for n, p in mtl.meta_branch.head.named_parameters()
        })
        for _ in range(2):
            loss = F.cross_entropy(maml_scores(mtl, fast, x[:num_support]),
                                   sy)
            grads = torch.autograd.grad(
                loss, list(fast.values()), create_graph=meta == 'maml')
            fast = {n: p - 0.4 * g for (n, p), g in zip(fast.items(), grads)}
        total = total + F.cross_entropy(
            maml_scores(mtl, fast, x[num_support:]), qy) / TASKS
    return total


def hand_reptile_update(mtl, inputs, labels):
    """theta - mean over the tasks of the weights after 3 torch.optim.SGD
    steps (lr 0.3) on a copy, support images only; by MTL parameter name."""
    num_support = WAYS * SHOTS
    branch = mtl.meta_branch
    theta = {n: p.detach() for n, p in branch.named_parameters()}
    update = {n: torch.zeros_like(p) for n, p in theta.items()}
    for x, y in zip(inputs, labels):
        clone = copy.deepcopy(branch)
        optimizer = torch.optim.SGD(clone.parameters(), lr=0.3)
        for _ in range(3):
            optimizer.zero_grad()
            F.cross_entropy(
                clone.head(clone.backbone(x[:num_support])),
                y[:num_support]).backward()
            optimizer.step()
        for n, p in clone.named_parameters():
            update[n] += (theta[n] - p.detach()) / TASKS
    return {
        n if n.startswith('backbone.') else f'meta_branch.{n}': u
        for n, u in update.items()
    }


@pytest.mark.parametrize('share_features', [True, False])
@pytest.mark.parametrize('meta,vmap', [(meta, None) for meta in META_BRANCHES]
                         + [(meta, False)
                            for meta in ('maml', 'fomaml', 'reptile')])
def test_gradient_is_the_weighted_sum_of_hand_written_branches(
        meta, vmap, share_features):
    """The wiring against references written here: the meta branch sees the
    episode labels, the transfer branch its images with their global labels
    through the C-way head (shared features: those each task's first inner
    step embeds, per task; else every image of the meta-batch at once), both
    on the one backbone, and the gradient is (1 - beta) * meta + beta *
    transfer. The gradient meta-learners also with their tasks looped
    (``vmap=False``: the inner gradients by ``torch.autograd.grad``)."""
    beta = 0.3
    mtl = build_mtl(meta, beta, share_features)
    if vmap is not None:
        mtl.meta_branch.vmap = vmap
    inputs, samples = meta_batch()
    params = dict(mtl.named_parameters())
    assert not [n for n in params if '_branch.backbone.' in n]
    out = mtl.loss(inputs, samples)
    got = dict(zip(params, torch.autograd.grad(
        out['loss'], list(params.values()), allow_unused=True)))
    head = mtl.transfer_branch.head.fc
    if share_features:
        transfer = per_task_transfer_loss(meta)(mtl.transfer_branch)
    else:
        transfer = F.cross_entropy(
            mtl.backbone(inputs.flatten(0, 1)) @ head.weight.t() + head.bias,
            samples['gt_label'].flatten())
    assert out['transfer_objective'].item() == pytest.approx(
        transfer.item(), rel=1e-10)
    expected = dict(zip(params, torch.autograd.grad(
        beta * transfer, list(params.values()), allow_unused=True)))
    if meta == 'reptile':
        meta_update = hand_reptile_update(mtl, inputs,
                                          samples['episode_label'])
    else:
        objective = hand_meta_objective(mtl, meta, inputs,
                                        samples['episode_label'])
        assert out['meta_objective'].item() == pytest.approx(
            objective.item(), rel=1e-10)
        meta_update = dict(zip(params, torch.autograd.grad(
            objective, list(params.values()), allow_unused=True)))
    for name, p in params.items():
        want = torch.zeros_like(p)
        for part, weight in ((expected, 1.0), (meta_update, 1 - beta)):
            if part.get(name) is not None:
                want = want + weight * part[name]
        have = got[name] if got[name] is not None else torch.zeros_like(p)
        if name.endswith('weight'):
            assert want.abs().sum() > 0, name
        torch.testing.assert_close(have, want, rtol=1e-9, atol=1e-12,
                                   msg=lambda m: f'{name}: {m}')


@pytest.mark.parametrize('share_features', [True, False])
@pytest.mark.parametrize('meta', list(META_BRANCHES))
def test_step_is_the_weighted_average_of_the_branch_updates(
        meta, share_features):
    """One MTL step == (1 - beta) x the standalone meta step + beta x the
    standalone transfer step; with shared features the transfer step is
    the hand-written per-task loss above, else the transfer model's own
    loss over every image of the meta-batch."""
    beta = 0.3
    mtl = build_mtl(meta, beta, share_features)
    meta_alone = standalone(META_BRANCHES[meta], mtl, 'meta_branch')
    transfer_alone = standalone(TRANSFER, mtl, 'transfer_branch')
    step_meta = sgd_step(meta_alone)
    step_transfer = sgd_step(
        transfer_alone,
        per_task_transfer_loss(meta) if share_features else None)
    step = sgd_step(mtl)
    assert set(step) == ({
        f'meta_branch.{n}'
        for n in step_meta if not n.startswith('backbone')
    }
                         | {
                             f'transfer_branch.{n}'
                             for n in step_transfer
                             if not n.startswith('backbone')
                         }
                         | {n
                            for n in step_meta if n.startswith('backbone')})
    for name, delta in step.items():
        if name.startswith('backbone.'):
            expected = ((1 - beta) * step_meta[name] +
                        beta * step_transfer[name])
        elif name.startswith('meta_branch.'):
            expected = (1 - beta) * step_meta[name[len('meta_branch.'):]]
        else:
            expected = beta * step_transfer[name[len('transfer_branch.'):]]
        if name.endswith('weight'):  # (a conv bias before BN gets none)
            assert delta.abs().sum() > 0, name
        torch.testing.assert_close(delta, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('meta', ['maml', 'reptile'])
def test_beta_0_is_the_meta_learner_and_beta_1_transfer_learning(meta):
    for beta, branch, cfg, idle in ((0.0, 'meta_branch', META_BRANCHES[meta],
                                     'transfer_branch'),
                                    (1.0, 'transfer_branch', TRANSFER,
                                     'meta_branch')):
        mtl = build_mtl(meta, beta)
        alone = standalone(cfg, mtl, branch)
        expected = sgd_step(alone)
        step = sgd_step(mtl)
        for name, delta in expected.items():
            key = name if name.startswith('backbone.') else f'{branch}.{name}'
            torch.testing.assert_close(
                step[key], delta, rtol=1e-12, atol=1e-15)
        for name, delta in step.items():
            if name.startswith(idle):
                assert delta.abs().max() == 0, name


def test_logs_name_each_branch_and_the_total_is_their_weighted_sum():
    mtl = build_mtl('maml', beta=0.25)
    out = mtl.loss(*meta_batch())
    assert set(out) == {
        'loss', 'meta_objective', 'meta_accuracy', 'transfer_objective',
        'transfer_accuracy'
    }
    torch.testing.assert_close(
        out['loss'].detach(),
        0.75 * out['meta_objective'] + 0.25 * out['transfer_objective'])


def test_backbone_is_shared_and_stored_once(tmp_path):
    mtl = build_mtl('maml')
    assert mtl.meta_branch.backbone is mtl.backbone
    assert mtl.transfer_branch.backbone is mtl.backbone
    state = mtl.state_dict()
    assert not [k for k in state if '_branch.backbone.' in k]
    assert any(k.startswith('backbone.') for k in state)
    torch.save(state, tmp_path / 'mtl.pth')
    other = build_mtl('maml')
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    other.load_state_dict(
        torch.load(tmp_path / 'mtl.pth', weights_only=True), strict=True)
    for name, value in state.items():
        torch.testing.assert_close(other.state_dict()[name], value)
    torch.testing.assert_close(other.meta_branch.backbone.layers[0][0].weight,
                               mtl.backbone.layers[0][0].weight)


@pytest.mark.parametrize('meta', ['maml', 'protonet'])
def test_new_tasks_are_learned_as_the_meta_branch_learns_them(meta):
    mtl = build_mtl(meta)
    alone = standalone(META_BRANCHES[meta], mtl, 'meta_branch')
    inputs, samples = meta_batch()
    support, labels = inputs[0, :WAYS *
                             SHOTS], samples['episode_label'][0, :WAYS * SHOTS]
    query = inputs[0, WAYS * SHOTS:]
    scores = mtl.predict_query(mtl.adapt(support, labels, WAYS), query)
    expected = alone.predict_query(alone.adapt(support, labels, WAYS), query)
    torch.testing.assert_close(scores, expected)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match='beta must be in'):
        build_mtl('maml', beta=1.5)
    with pytest.raises(ValueError, match='backbone has no type and the'):
        MODELS.build(
            dict(
                type='MTL',
                backbone=dict(channels=(3, 3)),
                meta_branch=META_BRANCHES['maml'],
                transfer_branch=TRANSFER))
    with pytest.raises(ValueError, match='transfer_branch must not have'):
        MODELS.build(
            dict(
                type='MTL',
                backbone=BACKBONE,
                meta_branch=META_BRANCHES['maml'],
                transfer_branch=dict(TRANSFER, backbone=BACKBONE)))
    with pytest.raises(ValueError, match='no backbone'):
        MODELS.build(
            dict(type='MTL', meta_branch=META_BRANCHES['maml'],
                 transfer_branch=TRANSFER))
    with pytest.raises(ValueError, match='head has no type and the meta'):
        MODELS.build(
            dict(
                type='MTL',
                backbone=BACKBONE,
                meta_branch=META_BRANCHES['protonet'],
                transfer_branch=dict(head=dict(num_classes=CLASSES))))


@pytest.mark.parametrize('meta', ['maml', 'reptile'])
def test_whole_meta_model_as_branch_builds_the_same_model(meta):
    """meta_branch = the meta-learner's own model config (backbone and data
    preprocessor inside) and a transfer head given by its class count: the
    same modules, weights and meta-training loss as the explicit form."""
    explicit = build_mtl(meta)
    preprocessor = dict(type='FewShotDataPreprocessor', mean=[0.5],
                        std=[0.25])
    torch.manual_seed(0)
    brief = MODELS.build(
        dict(
            type='MTL',
            meta_branch=dict(META_BRANCHES[meta], backbone=BACKBONE,
                             data_preprocessor=preprocessor),
            transfer_branch=dict(head=dict(num_classes=CLASSES)),
            beta=0.3)).double()
    assert brief.transfer_branch.head.fc.out_features == CLASSES
    assert brief.meta_branch.backbone is brief.backbone
    assert brief.transfer_branch.backbone is brief.backbone
    assert brief.data_preprocessor.mean.flatten().tolist() == [0.5]
    state, expected = brief.state_dict(), explicit.state_dict()
    assert sorted(state) == sorted(expected)
    for key in expected:
        torch.testing.assert_close(state[key], expected[key])
    inputs, samples = meta_batch()
    torch.testing.assert_close(
        brief.loss(inputs, samples)['loss'],
        explicit.loss(inputs, samples)['loss'])


def test_model_keys_change_or_replace_the_meta_branchs():
    """model.backbone / model.data_preprocessor without a type change the
    keys they give of the meta branch's; with one they replace it."""
    maml = dict(META_BRANCHES['maml'], backbone=BACKBONE)
    changed = MODELS.build(
        dict(type='MTL', meta_branch=maml, transfer_branch=TRANSFER,
             backbone=dict(channels=(3, 5)),
             data_preprocessor=dict(type='FewShotDataPreprocessor',
                                    mean=[0.5], std=[0.25])))
    convs = [m for m in changed.backbone.modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [3, 5]
    assert convs[0].in_channels == 1  # kept from the meta branch's
    assert changed.data_preprocessor.std.flatten().tolist() == [0.25]
    replaced = MODELS.build(
        dict(type='MTL', meta_branch=maml, transfer_branch=TRANSFER,
             backbone=dict(type='Conv4', in_channels=1, channels=(2, 2),
                           track_running_stats=False)))
    assert [m.out_channels for m in replaced.backbone.modules()
            if isinstance(m, torch.nn.Conv2d)] == [2, 2]


USER_MODULE = '''
"""A user's own backbone and meta branch, registered from outside mmmtl."""
import torch.nn as nn

from mmmtl.models import MAML
from mmmtl.registry import MODELS


@MODELS.register_module()
class UserTinyNet(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.user_conv = nn.Conv2d(1, width, 3, stride=2, padding=1)
        self.user_norm = nn.BatchNorm2d(width, track_running_stats=False)

    def forward(self, x):
        return self.user_norm(self.user_conv(x)).relu().mean((2, 3))


@MODELS.register_module()
class UserMAML(MAML):
    """MAML whose logged meta accuracy is tagged, to show it ran."""

    def loss_and_features(self, inputs, data_samples):
        out, feats, labels = super().loss_and_features(inputs, data_samples)
        out['user_branch_ran'] = out['accuracy'] * 0 + 1
        return out, feats, labels
'''


def test_custom_imports_plug_a_users_backbone_and_branch_into_mtl(
        tiny_omniglot, tmp_path, monkeypatch):
    root, _ = tiny_omniglot
    (tmp_path / 'my_fewshot_parts.py').write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / 'mtl_user.py'
    base = osp.join(REPO, 'configs', 'mtl',
                    'mtl-maml_conv4_1xb32_omniglot_5way-1shot.py')
    config.write_text(
        textwrap.dedent(f"""
        _base_ = [{base!r}]
        custom_imports = dict(imports=['my_fewshot_parts'],
                              allow_failed_imports=False)
        model = dict(
            backbone=dict(_delete_=True, type='UserTinyNet', width=4),
            meta_branch=dict(type='UserMAML', num_ways=3,
                             head=dict(in_channels=4)),
            transfer_branch=dict(head=dict(in_channels=4, num_classes=20)))
        train_dataloader = dict(
            batch_size=2,
            dataset=dict(num_ways=3, num_shots=1, num_queries=1,
                         dataset=dict(data_root={root!r})))
        val_dataloader = None
        val_evaluator = None
        val_cfg = None
        test_dataloader = None
        test_evaluator = None
        test_cfg = None
        train_cfg = dict(max_iters=2, val_interval=1000)
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=2, save_best=None))
        """))
    work = tmp_path / 'work'
    train_tool.main([str(config), '--work-dir', str(work)])
    state = load_checkpoint_file(str(work / 'iter_2.pth'))['state_dict']
    assert 'backbone.user_conv.weight' in state
    assert state['transfer_branch.head.fc.weight'].shape == (20, 4)
    logs = (next(work.glob('*/vis_data/scalars.json'))).read_text()
    assert 'meta_user_branch_ran' in logs


def test_load_from_an_mtl_checkpoint_into_maml_and_transfer(
        tiny_omniglot, tmp_path):
    """docs/mtl.md: an MTL checkpoint keeps the shared backbone under
    ``backbone.``, so ``load_from`` with ``load_from_strict=False`` starts a
    MAML or a TransferClassifier from it (runs of one iteration at learning
    rate 0 keep the loaded weights)."""
    root, _ = tiny_omniglot
    mtl_work = tmp_path / 'mtl'
    train_tool.main([
        tiny_config(tmp_path / 'mtl.py', 'mtl', root), '--work-dir',
        str(mtl_work), '--cfg-options', 'train_cfg.max_iters=2',
        'experiment_name=load_from_mtl'
    ])
    mtl_state = load_checkpoint_file(mtl_work / 'iter_2.pth')['state_dict']
    shared = {k: v for k, v in mtl_state.items() if k.startswith('backbone.')}
    assert shared
    frozen = [
        f'load_from={mtl_work / "iter_2.pth"}', 'load_from_strict=False',
        'train_cfg.max_iters=1', 'optim_wrapper.optimizer.lr=0.0',
        'param_scheduler=[]'
    ]
    transfer = [
        osp.join(REPO, 'configs', 'transfer',
                 'baseline_conv4_1xb128_omniglot_5way-1shot.py'),
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.image_size=8', 'train_dataloader.batch_size=8',
        'model.backbone.channels=[4,4]', 'model.head.in_channels=16',
        'model.head.num_classes=20', 'val_cfg=None', 'val_dataloader=None',
        'val_evaluator=None', 'default_hooks.checkpoint.save_best=None'
    ]
    maml = [tiny_config(tmp_path / 'maml.py', 'maml', root), '--cfg-options']
    for name, args in (('maml', maml), ('transfer', transfer)):
        work = tmp_path / name
        train_tool.main([
            args[0], '--work-dir',
            str(work), *args[1:], *frozen, f'experiment_name=from_mtl_{name}'
        ])
        state = load_checkpoint_file(work / 'iter_1.pth')['state_dict']
        params = {
            k
            for k in state if k.startswith('backbone.') and not k.endswith(
                ('running_mean', 'running_var', 'num_batches_tracked'))
        }
        assert params and params <= set(shared), name
        for key in params:
            torch.testing.assert_close(
                state[key], shared[key], msg=lambda m: f'{name} {key}: {m}')
