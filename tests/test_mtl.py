"""MTL (Eshratifar et al.): one step moves the weights by exactly the
weighted average of the two branches' updates computed by standalone
MAML / Reptile / ProtoNet and transfer models; beta = 0 and 1 reduce to the
branches; shared backbone stored once; custom_imports plug-ins."""
import os.path as osp
import sys
import textwrap

import pytest
import torch

from conftest import REPO, random_meta_batch
from mmmtl.registry import MODELS
from mmmtl.utils.checkpoint import load_checkpoint_file

sys.path.insert(0, osp.join(REPO, 'tools'))
import train as train_tool  # noqa: E402

WAYS, SHOTS, QUERIES, TASKS, CLASSES = 3, 2, 2, 2, 7
BACKBONE = dict(
    type='Conv4', in_channels=1, channels=(3, 3), track_running_stats=False)
HEAD = dict(type='LinearHead', in_channels=12)
META_BRANCHES = dict(
    maml=dict(
        type='MAML', head=HEAD, num_ways=WAYS, num_inner_steps=2,
        inner_lr=0.4),
    fomaml=dict(
        type='MAML',
        head=HEAD,
        num_ways=WAYS,
        num_inner_steps=2,
        inner_lr=0.4,
        first_order=True),
    reptile=dict(
        type='Reptile',
        head=HEAD,
        num_ways=WAYS,
        num_inner_steps=3,
        inner_lr=0.3),
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
    scores = mtl.predict(mtl.adapt(support, labels, WAYS), query)
    expected = alone.predict(alone.adapt(support, labels, WAYS), query)
    torch.testing.assert_close(scores, expected)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match='beta must be in'):
        build_mtl('maml', beta=1.5)
    with pytest.raises(ValueError, match='meta_branch must not have its own'):
        MODELS.build(
            dict(
                type='MTL',
                backbone=BACKBONE,
                meta_branch=dict(META_BRANCHES['maml'], backbone=BACKBONE),
                transfer_branch=TRANSFER))


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
