"""The adapters against independent references: Centroid's class means
and scores by hand, LinearProbe's optimum against Newton's method, any
checkpoint meta-tested with any adapter through tools/test.py, and the old
classifier keys refused with their replacement."""
import glob
import os
import os.path as osp
import textwrap

import pytest
import torch
import torch.nn.functional as F

from conftest import REPO, hand_meta_test
from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool
from mmmtl.models import MAML, Centroid, Finetune, LinearProbe, ProtoNet
from mmmtl.models.adapters.legacy import legacy_adapter, migrate_model_cfg


def pixels_model():
    """A classifier whose embedding is the flattened image."""
    return ProtoNet(backbone=torch.nn.Flatten()).eval()


def test_centroid_scores_by_hand():
    model = pixels_model()
    support = torch.tensor([[3., 4.], [1., 0.], [0., 2.], [0., 4.]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[1., 1.]])
    images = support.view(4, 2, 1, 1)
    # class means (2, 2) and (0, 3)
    cosine = Centroid(metric='cosine', scale=10.0)
    state = cosine.adapt(model, images, labels, 2)
    assert state['prototypes'].tolist() == [[2., 2.], [0., 3.]]
    scores = cosine.predict(model, state, query.view(1, 2, 1, 1))
    # cos((1,1),(2,2)) = 1, cos((1,1),(0,3)) = 1/sqrt(2)
    assert scores[0].tolist() == pytest.approx([10.0, 10 / 2**0.5])
    euclidean = Centroid(metric='euclidean')
    scores = euclidean.predict(model, state, query.view(1, 2, 1, 1))
    # |(1,1)-(2,2)|^2 = 2, |(1,1)-(0,3)|^2 = 5
    assert scores.tolist() == [[-2.0, -5.0]]


def newton_objective(probe, feats, labels, num_ways):
    """The probe's objective written by hand on the flattened (weight,
    bias): the mean cross-entropy plus ``l2 / 2 * |W|^2``."""
    size = num_ways * feats.shape[1]

    def objective(theta):
        weight, bias = theta[:size].view(num_ways, -1), theta[size:]
        logits = feats @ weight.t() + bias
        log_probs = logits - logits.logsumexp(-1, keepdim=True)
        return (-log_probs[torch.arange(len(labels)), labels].mean() +
                probe.l2 / 2 * (weight**2).sum())

    return objective


def newton_minimiser(probe, feats, labels, num_ways, steps=30):
    """The minimiser of the hand-written objective by Newton's method, the
    Hessian by autograd, its pseudo-inverse for the softmax's shift
    invariance (from zero the steps keep the bias summing to zero, as
    L-BFGS's do)."""
    feats = feats.double()
    size = num_ways * feats.shape[1]
    objective = newton_objective(probe, feats, labels, num_ways)
    theta = torch.zeros(size + num_ways, dtype=torch.float64)
    for _ in range(steps):
        grad = torch.autograd.functional.jacobian(objective, theta)
        hessian = torch.autograd.functional.hessian(objective, theta)
        theta = theta - torch.linalg.pinv(hessian) @ grad
    return theta[:size].view(num_ways, -1), theta[size:]


@pytest.mark.parametrize('l2', [0.1, 1.0])
def test_linear_probe_reaches_the_newton_optimum(l2):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    labels = torch.arange(3).repeat(4)
    probe = LinearProbe(l2=l2, normalize=False, tolerance=1e-10)
    state = probe.fit(feats, labels, 3)
    weight, bias = newton_minimiser(probe, feats, labels, 3)
    assert torch.allclose(state['weight'], weight, atol=1e-6)
    assert torch.allclose(state['bias'], bias, atol=1e-6)
    # the optimum: zero gradient of the hand-written objective
    theta = torch.cat([state['weight'].flatten(), state['bias']])
    grad = torch.autograd.functional.jacobian(
        lambda t: newton_objective(probe, feats, labels, 3)(t), theta)
    assert grad.abs().max() < 1e-6


def test_linear_probe_normalises_features_and_predicts_with_them():
    model = pixels_model()
    probe = LinearProbe(l2=0.5)
    support = torch.tensor([[3., 0.], [6., 0.5], [0., 2.], [0.5, 9.]])
    labels = torch.tensor([0, 0, 1, 1])
    state = probe.adapt(model, support.view(4, 2, 1, 1), labels, 2)
    reference = probe.fit(F.normalize(support, dim=-1), labels, 2)
    assert torch.allclose(state['weight'], reference['weight'])
    query = torch.tensor([[10., 1.]])
    scores = probe.predict(model, state, query.view(1, 2, 1, 1))
    expected = F.normalize(query, dim=-1) @ reference['weight'].t() + \
        reference['bias']
    assert torch.allclose(scores, expected)
    assert scores.argmax().item() == 0


def test_finetune_of_a_new_head_is_sgd_on_the_frozen_features():
    model = pixels_model()
    adapter = Finetune(num_steps=3, lr=0.7, adapt='head.',
                       head=dict(type='LinearHead'), head_init='zero')
    gen = torch.Generator().manual_seed(1)
    support = torch.randn(6, 3, generator=gen)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    state = adapter.adapt(model, support.view(6, 3, 1, 1), labels, 3)
    weight, bias = torch.zeros(3, 3), torch.zeros(3)
    for _ in range(3):  # SGD by hand: the mean cross-entropy's gradient
        probs = F.softmax(support @ weight.t() + bias, -1)
        error = (probs - F.one_hot(labels, 3)) / len(labels)
        weight, bias = (weight - 0.7 * error.t() @ support,
                        bias - 0.7 * error.sum(0))
    assert torch.allclose(state['head.fc.weight'], weight, atol=1e-6)
    assert torch.allclose(state['head.fc.bias'], bias, atol=1e-6)


def test_old_keys_are_refused_with_their_replacement():
    common = dict(backbone=dict(type='Conv4', in_channels=1, channels=(4, ) *
                                4, track_running_stats=False),
                  head=dict(type='LinearHead', in_channels=4), num_ways=2)
    with pytest.raises(ValueError) as error:
        MAML(**common, test_num_inner_steps=7, zero_head=True)
    message = str(error.value)
    assert "test_num_inner_steps -> test_cfg.num_steps" in message
    assert "zero_head -> head_init='zero'" in message
    assert "'test_cfg': {'num_steps': 7}" in message
    with pytest.raises(TypeError, match=r"unexpected arguments \['colour'\]"):
        MAML(**common, colour='red')
    # the replacement the error names builds what the old keys described
    replacement = legacy_adapter('MAML', dict(test_num_inner_steps=7,
                                              zero_head=True))
    model = MAML(**common, adapter=replacement)
    assert model.adapter.test_setting('num_steps') == 7
    assert model.adapter.head_init == 'zero' and model.adapter.num_steps == 1


def test_a_saved_task_config_of_the_old_form_is_migrated():
    old = dict(type='MTL', meta_branch=dict(
        type='MAML', num_inner_steps=5, test_num_inner_steps=10,
        inner_lr=0.05, zero_head=True, test_batch_size=50,
        test_line_search=True), transfer_branch=dict())
    assert migrate_model_cfg(old)['meta_branch'] == dict(
        type='MAML', adapter=dict(type='Finetune', num_steps=5, lr=0.05,
                                  head_init='zero', batch_size=50,
                                  line_search=True,
                                  test_cfg=dict(num_steps=10)))


MAML_CONFIG = osp.join(REPO, 'configs', 'maml',
                       'maml_conv4_1xb8_omniglot_5way-1shot.py')


def tiny_maml_config(path, root):
    """The MAML Omniglot config shrunk: 3-way 1-shot at 8x8, a two-block
    Conv4, 2 iterations."""
    path.write_text(
        textwrap.dedent(f"""
        _base_ = [{MAML_CONFIG!r}]
        model = dict(num_ways=3,
                     backbone=dict(channels=(4, 4), stride=1, pool=True),
                     head=dict(in_channels=16))
        data = dict(data_root={root!r}, image_size=8)
        train_dataloader = dict(batch_size=2, dataset=dict(
            num_ways=3, num_shots=1, num_queries=1, dataset=data))
        val_dataloader = dict(dataset=dict(
            num_ways=3, num_queries=2, num_episodes=2, dataset=data))
        test_dataloader = dict(dataset=dict(
            num_ways=3, num_queries=2, num_episodes=3, dataset=data))
        train_cfg = dict(max_iters=2, val_interval=2)
        param_scheduler = []
        default_hooks = dict(checkpoint=dict(interval=2))
        """))
    return str(path)


def test_any_checkpoint_with_any_adapter(tiny_omniglot, tmp_path):
    """A 3-way MAML checkpoint meta-tested with the cosine centroid and the
    linear probe, at 3 ways and at 7 (its own head is 3-way): the numbers
    of a hand run with that adapter, and the adapter named in the files."""
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    config = tiny_maml_config(tmp_path / 'maml.py', root)
    train_tool.main([config, '--work-dir', work])
    ckpt = glob.glob(osp.join(work, 'best_*.pth'))[0]
    for name, options, adapter, described in (
            ('centroid', [], dict(type='Centroid', metric='cosine'),
             'Centroid(cosine)'),
            ('linear', ['l2=0.1'], dict(type='LinearProbe', l2=0.1),
             'LinearProbe(l2=0.1)')):
        rows = test_tool.main([
            config, ckpt, '--work-dir', work, '--ways', '3', '7',
            '--adapter', name,
            *(['--adapter-cfg', *options] if options else [])
        ])
        assert [r['num_ways'] for r in rows] == [3, 7]
        for row in rows:
            assert row['adapter'] == described
            assert row['episode_accuracies'] == pytest.approx(
                hand_meta_test(config, ckpt, ways=row['num_ways'],
                               adapter=adapter), abs=1e-4)
    markdown = sorted(glob.glob(osp.join(work, 'meta_test_*.md')))[-1]
    assert 'adapter LinearProbe(l2=0.1)' in open(markdown).read()
    # the model's own adapter cannot score 7 ways: refused before any cell
    with pytest.raises(ValueError, match='3-way head; got 7-way'):
        test_tool.main([config, ckpt, '--work-dir', work, '--ways', '3',
                        '7'])


def test_a_task_adapted_with_another_adapter_saves_and_loads(
        tiny_omniglot, tmp_path):
    """A MAML checkpoint given the linear probe for a custom task: the
    saved file rebuilds the model with that adapter and predicts the
    same."""
    from mmmtl.apis import CustomTask
    root, names = tiny_omniglot
    work = str(tmp_path / 'work')
    config = tiny_maml_config(tmp_path / 'maml.py', root)
    train_tool.main([config, '--work-dir', work])
    ckpt = glob.glob(osp.join(work, 'best_*.pth'))[0]
    task = CustomTask.from_config(config, ckpt,
                                  adapter=dict(type='LinearProbe', l2=0.1))
    folder = osp.join(root, 'images_evaluation')
    images = sorted(glob.glob(osp.join(folder, '*', '*', '*.png')))
    pairs = [(path, path.split(os.sep)[-2]) for path in images[:12]]
    task.adapt(pairs)
    assert type(task.model.adapter).__name__ == 'LinearProbe'
    task.save(str(tmp_path / 'task.pth'))
    again = CustomTask.load(str(tmp_path / 'task.pth'))
    assert type(again.model.adapter).__name__ == 'LinearProbe'
    assert again.model.adapter.l2 == 0.1
    assert torch.equal(again.probabilities(images[12:16]),
                       task.probabilities(images[12:16]))


def test_zero_steps_mean_zero_and_bad_counts_name_their_key():
    """0 steps: the start is the task state (the old ``test_num_inner_steps
    or num_inner_steps`` made 0 one step); negative, fractional or NaN
    values are refused naming the key."""
    common = dict(backbone=dict(type='Conv4', in_channels=1, channels=(4, ) *
                                4, track_running_stats=False),
                  head=dict(type='LinearHead', in_channels=4), num_ways=2)
    model = MAML(**common, adapter=dict(
        type='Finetune', num_steps=3, lr=0.5,
        test_cfg=dict(num_steps=0))).eval()
    support = torch.randn(4, 1, 28, 28)
    state = model.adapt(support, torch.tensor([0, 1, 0, 1]), 2)
    for name, p in model.shared_params().items():
        assert torch.equal(state[name], p.detach()), name
    for key, value, match in (
            ('num_steps', -1, 'num_steps must be an int >= 0'),
            ('num_steps', 1.5, 'num_steps must be an int >= 0'),
            ('lr', float('nan'), 'lr must be a finite number >= 0'),
            ('lr', -0.1, 'lr must be a finite number >= 0'),
            ('test_cfg', dict(num_steps=-2),
             'test_cfg.num_steps must be an int >= 0'),
            ('batch_size', 0, 'batch_size must be None or an int >= 1')):
        with pytest.raises(ValueError, match=match):
            MAML(**common, adapter=dict(type='Finetune', **{key: value}))
