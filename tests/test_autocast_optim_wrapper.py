"""AutocastOptimWrapper: the precision it picks, what runs in bfloat16 and
what stays float32, and the bfloat16 second-order MAML meta-gradient within
its stated tolerance of the float64 one (float32 far within it)."""
import copy

import pytest
import torch
import torch.nn as nn

from mmmtl.engine.optim_wrappers import autocast_optim_wrapper as module
from mmmtl.engine.optim_wrappers import AutocastOptimWrapper
from mmmtl.registry import MODELS, OPTIM_WRAPPERS

# the stated tolerance of a bfloat16 meta-gradient (docs/meta_learners.md,
# "bfloat16"): relative L2 error against float64 below 20%, and below a
# fifth of the difference between two meta-batches' gradients (the
# benchmark's regimes: 0.2-17% against 84-338%)
BF16_META_GRAD_TOL = 0.2
BF16_SAMPLING_SHARE = 0.2


def wrapper(model, precision):
    return AutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        precision=precision)


def test_unknown_precision_named():
    with pytest.raises(ValueError, match="precision.*'half'"):
        wrapper(nn.Linear(2, 2), 'half')


@pytest.mark.parametrize('precision,native,dtype', [
    ('float32', True, torch.float32),
    ('bfloat16', False, torch.bfloat16),
    ('auto', True, torch.bfloat16),
    ('auto', False, torch.float32),
])
def test_forward_dtype_weights_stay_float32(monkeypatch, precision, native,
                                            dtype):
    monkeypatch.setattr(module, 'native_bf16', lambda device: native)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(16, 2))
    before = copy.deepcopy(model)
    optim = wrapper(model, precision)
    with optim.optim_context(model):
        conv = model[0](torch.randn(2, 1, 4, 4))
        out = model[2](model[1](conv))
    assert conv.dtype == out.dtype == dtype
    optim.backward(out.float().square().mean())
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())
    optim.step()
    # the update is applied to the float32 weights
    for p, q in zip(model.parameters(), before.parameters()):
        assert p.dtype == torch.float32 and not torch.equal(p, q)
    # outside the context, float32 again
    assert model(torch.randn(2, 1, 4, 4)).dtype == torch.float32


def test_built_from_config():
    model = nn.Linear(2, 2)
    optim = OPTIM_WRAPPERS.build(
        dict(type='AutocastOptimWrapper', precision='bfloat16',
             optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(optim, AutocastOptimWrapper)
    assert optim.compute_dtype(torch.device('cpu')) == torch.bfloat16


def cpu_flags() -> set:
    """The CPU feature flags Linux reports (empty elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            return {flag for line in f if line.startswith('flags')
                    for flag in line.split(':', 1)[1].split()}
    except OSError:
        return set()


def test_native_bf16_follows_the_cpu_instructions(monkeypatch):
    """True on a CPU with the bfloat16 instructions (AVX512-BF16 or AMX,
    read from /proc/cpuinfo here), False without them, also where oneDNN
    would emulate bfloat16 on AVX512 (patched); False on other devices."""
    flags = cpu_flags()
    if not flags:
        pytest.skip('no /proc/cpuinfo flags to compare with')
    assert module.native_bf16(torch.device('cpu')) is bool(
        torch.backends.mkldnn.is_available()
        and {'avx512_bf16', 'amx_bf16'} & flags)
    monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported',
                        lambda: True)
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported',
                        lambda: False)
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: False)
    assert module.native_bf16(torch.device('cpu')) is False
    assert module.native_bf16(torch.device('meta')) is False


def _maml():
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='MAML',
             backbone=dict(type='Conv4', in_channels=1, channels=(8, ) * 4,
                           pool=False, stride=2,
                           track_running_stats=False),
             head=dict(type='LinearHead', in_channels=32),
             num_ways=5, adapter=dict(type='Finetune', num_steps=1, lr=2.0)))


def _meta_grad(model, inputs, samples, precision=None):
    model.zero_grad()
    if precision is None:
        loss = model.loss(inputs, samples)['loss']
    else:
        with wrapper(model, precision).optim_context(model):
            loss = model.loss(inputs, samples)['loss']
    loss.backward()
    return torch.cat([p.grad.flatten().double()
                      for p in model.parameters()])


def test_bf16_meta_gradient_within_tolerance():
    """Second-order MAML (Omniglot-like Conv4, 28x28, 5-way 1-shot
    15-query, 4 tasks): the bfloat16 meta-gradient is within
    BF16_META_GRAD_TOL of the float64 one and far closer to it than the
    gradient of another meta-batch; float32 within 1e-5."""
    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand(4, 80, 1, 28, 28, generator=gen)
    other = torch.rand(4, 80, 1, 28, 28, generator=gen)
    labels = torch.cat([torch.arange(5),
                        torch.arange(5).repeat_interleave(15)])
    samples = dict(episode_label=labels.repeat(4, 1), num_ways=5,
                   num_shots=1, num_queries=15)
    model = _maml()
    exact = _meta_grad(copy.deepcopy(model).double(), inputs.double(),
                       samples)

    def error(grad):
        return float((grad - exact).norm() / exact.norm())

    fp32 = error(_meta_grad(copy.deepcopy(model), inputs, samples,
                            'float32'))
    bf16 = error(_meta_grad(copy.deepcopy(model), inputs, samples,
                            'bfloat16'))
    sampling = error(_meta_grad(copy.deepcopy(model), other, samples,
                                'float32'))
    assert fp32 < 1e-5
    assert 1e-4 < bf16 < BF16_META_GRAD_TOL  # really bfloat16, and close
    assert bf16 < BF16_SAMPLING_SHARE * sampling
