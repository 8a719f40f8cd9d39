"""The pieces every classifier shares (issue #16): the episode split and its
ways check, head fine-tuning, zero-head ways from the split, and the
runnable examples of the public docstrings."""
import copy
import doctest
import importlib

import pytest
import torch
import torch.nn.functional as F

from mmmtl.models.classifiers.episode_split import EpisodeSplit
from mmmtl.models.head_finetune import finetune_head
from mmmtl.models.heads import LinearHead
from mmmtl.registry import MODELS

# module: the number of doctest examples it runs at least
DOCTESTED = {
    'mmmtl.models.inner_loop': 5,
    'mmmtl.models.head_finetune': 7,
    'mmmtl.models.heads.prototype': 3,
    'mmmtl.models.classifiers.episode_split': 4,
    'mmmtl.models.classifiers.base': 11,
    'mmmtl.models.classifiers.mtl': 4,
    'mmmtl.apis.custom_task': 10,
    'mmmtl.engine.optim_wrappers.autocast_optim_wrapper': 4,
    'mmmtl.models.adapters.centroid': 8,
    'mmmtl.models.adapters.finetune': 7,
    'mmmtl.models.adapters.linear_probe': 7,
    'mmmtl.utils.atomic_write': 4,
    'mmmtl.utils.work_dir_lock': 3,
}


@pytest.mark.parametrize('name', sorted(DOCTESTED))
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= DOCTESTED[name]


def episodes(tasks=2, ways=3, shots=2, queries=1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(tasks, ways * (shots + queries), 1, 8, 8,
                         generator=gen, dtype=torch.float64)
    labels = torch.cat([
        torch.arange(ways).repeat_interleave(shots),
        torch.arange(ways).repeat_interleave(queries)
    ]).repeat(tasks, 1)
    global_labels = labels + 100 * torch.arange(tasks).unsqueeze(1)
    return inputs, dict(episode_label=labels, gt_label=global_labels,
                        num_ways=ways, num_shots=shots)


def test_episode_split_cuts_support_first():
    inputs, samples = episodes(tasks=2, ways=3, shots=2, queries=1)
    split = EpisodeSplit.from_batch(inputs, samples, 'here')
    assert torch.equal(split.support_x, inputs[:, :6])
    assert torch.equal(split.query_x, inputs[:, 6:])
    assert split.support_y.tolist() == [[0, 0, 1, 1, 2, 2]] * 2
    assert split.query_y.tolist() == [[0, 1, 2]] * 2
    assert (split.num_ways, split.num_shots) == (3, 2)
    support_gt, query_gt = split.split(samples['gt_label'])
    assert query_gt.tolist() == [[0, 1, 2], [100, 101, 102]]
    assert support_gt.shape == (2, 6)


def test_episode_split_refuses_plain_batches():
    inputs, samples = episodes()
    with pytest.raises(ValueError, match='MyModel needs episodic batches'):
        EpisodeSplit.from_batch(inputs.flatten(0, 1), samples, 'MyModel')
    with pytest.raises(ValueError, match='MyModel needs episodic batches'):
        EpisodeSplit.from_batch(inputs, dict(gt_label=samples['gt_label']),
                                'MyModel')


def maml(adapter=None, **kwargs):
    """A float64 MAML; ``adapter`` changes keys of its Finetune adapter
    (2 steps at lr 0.4)."""
    torch.manual_seed(0)
    cfg = dict(
        type='MAML',
        backbone=dict(type='Conv4', in_channels=1, channels=(3, 3),
                      track_running_stats=False),
        head=dict(type='LinearHead', in_channels=12),
        num_ways=3,
        adapter=dict(dict(type='Finetune', num_steps=2, lr=0.4),
                     **(adapter or {})))
    cfg.update(kwargs)
    return MODELS.build(cfg).double()


def test_the_ways_check_is_the_models_head():
    inputs, samples = episodes(ways=2)
    with pytest.raises(ValueError, match='MAML has a 3-way head; got 2-way'):
        maml().loss(inputs, samples)
    with pytest.raises(ValueError, match='MAML has a 3-way head; got 2-way'):
        maml()(inputs, samples, mode='predict')
    # any N with a zero head start, and for ProtoNet
    zero = maml(adapter=dict(head_init='zero'))
    assert zero.fixed_num_ways() is None
    assert zero.split_episodes(inputs, samples).num_ways == 2
    protonet = MODELS.build(
        dict(type='ProtoNet',
             backbone=dict(type='Conv4', in_channels=1, channels=(3, 3))))
    assert protonet.fixed_num_ways() is None
    protonet.check_ways(17)


def test_zero_head_rows_come_from_the_episode_not_its_labels():
    """A 4-way episode whose support happens to hold classes 0..2 only
    still gets a 4-row head (the ways come from the split, not from
    labels.max())."""
    model = maml(adapter=dict(head_init='zero'), num_ways=4)
    inputs, samples = episodes(tasks=2, ways=4, shots=1, queries=1)
    samples['episode_label'][:, 3] = 2
    fast = model.adapt_batch(model.split_episodes(inputs, samples),
                             first_order=True)
    assert fast['head.fc.weight'].shape == (2, 4, 12)


def hand_head_sgd(model, support, labels, steps, lr, batches):
    """The head alone of a copy of the model trained by torch.optim.SGD,
    step k on the support images ``batches[k]`` (the backbone's forward on
    them every step, as the whole-model meta-test runs it)."""
    clone = copy.deepcopy(model)
    optimizer = torch.optim.SGD(clone.head.parameters(), lr=lr)
    for step in range(steps):
        index = batches[step]
        optimizer.zero_grad()
        F.cross_entropy(
            clone.head(clone.backbone(support[index])),
            labels[index]).backward()
        optimizer.step()
    return clone.head


@pytest.mark.parametrize('batch_size', [None, 3])
def test_head_only_meta_test_fine_tunes_the_head_on_fixed_features(
        batch_size):
    model = maml(adapter=dict(adapt='head.', test_cfg=dict(num_steps=3),
                              batch_size=batch_size)).eval()
    gen = torch.Generator().manual_seed(3)
    support = torch.randn(9, 1, 8, 8, generator=gen, dtype=torch.float64)
    labels = torch.arange(3).repeat_interleave(3)
    state = model.adapt(support, labels, 3)
    batches = model.adapter._test_batches(labels, 3, 3)
    assert (batches is None) == (batch_size is None)
    head = hand_head_sgd(model, support, labels, 3, 0.4,
                         batches or [torch.arange(9)] * 3)
    # the task state is the head alone; the backbone stays the model's
    assert set(state) == {f'head.{n}' for n, _ in head.named_parameters()}
    for name, p in head.named_parameters():
        assert torch.allclose(state[f'head.{name}'], p.detach(),
                              atol=1e-12), name
    query = torch.randn(4, 1, 8, 8, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        expected = head(model.backbone(query))
    assert torch.allclose(model.predict_query(state, query), expected,
                          atol=1e-12)
    if batch_size:  # the subsets were used: all of it scores otherwise
        whole = hand_head_sgd(model, support, labels, 3, 0.4,
                              [torch.arange(9)] * 3)
        assert not torch.allclose(state['head.fc.weight'],
                                  whole.fc.weight.detach(), atol=1e-6)


def test_finetune_head_takes_one_batch_per_step():
    """Two SGD steps of a zero-initialised linear head, each on its own
    features, against the cross-entropy gradient written out:
    dW = (softmax - onehot)^T x / B, db = mean(softmax - onehot)."""
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(4, 3, generator=gen, dtype=torch.float64)
             for _ in range(2)]
    labels = [torch.tensor([0, 1, 1, 0]), torch.tensor([1, 1, 0, 0])]
    head = LinearHead(3, 2, zero_init=True).double()
    params = {n: p.detach() for n, p in head.named_parameters()}
    fast = finetune_head(head, params, feats, labels, num_steps=2, lr=0.5)
    w, b = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(
        2, dtype=torch.float64)
    for x, y in zip(feats, labels):
        error = F.softmax(x @ w.t() + b, -1) - F.one_hot(y, 2)
        w, b = w - 0.5 * error.t() @ x / 4, b - 0.5 * error.mean(0)
    assert torch.allclose(fast['fc.weight'], w, atol=1e-12)
    assert torch.allclose(fast['fc.bias'], b, atol=1e-12)
    with pytest.raises(ValueError, match='2 step losses for 3 steps'):
        finetune_head(head, params, feats, labels, num_steps=3, lr=0.5)
