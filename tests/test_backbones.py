"""ResNet12, WRN-28-10, DropBlock and mmpretrain backbones through mmmtl's
registry; the 84x84 transfer configs build."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmtl.models.backbones.resnet12 import DropBlock
from mmmtl.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def forward_backward(model: torch.nn.Module, size: int = 84) -> torch.Tensor:
    model.train()
    x = torch.randn(2, 3, size, size, requires_grad=True)
    feats = model(x)
    feats.pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.parameters())
    return feats


def test_resnet12_84x84():
    model = MODELS.build(dict(type='ResNet12'))
    assert model.out_channels == 640
    feats = forward_backward(model)
    assert feats.shape == (2, 640)
    n_params = sum(p.numel() for p in model.parameters())
    assert 12.3e6 < n_params < 12.5e6  # the usual ResNet-12, ~12.4M
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 84, 84)).shape == (1, 640)
    flat = MODELS.build(dict(type='ResNet12', avg_pool=False))
    with torch.no_grad():
        assert flat(torch.randn(1, 3, 84, 84)).shape == (1, 640 * 5 * 5)


def test_resnet12_bn_policy_and_dropblock():
    model = MODELS.build(
        dict(type='ResNet12', track_running_stats=False,
             drop_block_prob=0.1))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.running_mean is None for bn in bns)
    drops = [m.drop.drop_prob for m in model.layers]
    assert drops == [0.0, 0.0, 0.1, 0.1]
    assert forward_backward(model, size=32).shape == (2, 640)
    with pytest.raises(ValueError, match='drop_block_stages'):
        MODELS.build(dict(type='ResNet12', drop_block_stages=(4, )))


def test_dropblock():
    torch.manual_seed(0)
    drop = DropBlock(drop_prob=0.2, block_size=3)
    x = torch.ones(8, 4, 20, 20)
    drop.eval()
    assert torch.equal(drop(x), x)
    drop.train()
    out = drop(x)
    dropped = (out == 0).float().mean().item()
    assert 0.12 < dropped < 0.28
    kept = out[out > 0]
    assert torch.allclose(kept, kept[0].expand_as(kept))  # one rescale
    assert abs(out.mean().item() - 1.0) < 1e-4
    # a single sampled centre drops a whole size x size square (odd and
    # even sizes), and the output keeps the input's shape
    for size in (3, 2):
        block = DropBlock(drop_prob=0.1, block_size=size)
        single = 0
        for seed in range(60):
            torch.manual_seed(seed)
            out = block(torch.ones(1, 1, 7, 7))
            assert out.shape == (1, 1, 7, 7)
            rows, cols = (out[0, 0] == 0).nonzero(as_tuple=True)
            if len(rows) == size * size:
                single += 1
                assert rows.max() - rows.min() == size - 1
                assert cols.max() - cols.min() == size - 1
        assert single > 0
    assert DropBlock(0.0)(x).equal(x)


def test_wrn_28_10():
    model = MODELS.build(dict(type='WRN', depth=28, widen_factor=10))
    assert model.out_channels == 640
    n_params = sum(p.numel() for p in model.parameters())
    assert 36.0e6 < n_params < 37.0e6  # 36.5M
    assert forward_backward(model).shape == (2, 640)


NEW_CONFIGS = sorted(
    f for f in glob.glob(osp.join(REPO, 'configs/transfer/*.py'))
    if any(name in f for name in ('mini-imagenet', 'tiered-imagenet', 'cub'))
    and '-32px_' not in f)  # (the 32x32 CPU protocol: test_meta_configs)


def test_transfer_configs_build():
    assert len(NEW_CONFIGS) == 18
    base_classes = {'mini-imagenet': 64, 'tiered-imagenet': 351, 'cub': 100}
    data_roots = {
        'mini-imagenet': 'data/mini_imagenet',
        'tiered-imagenet': 'data/tiered_imagenet',
        'cub': 'data/CUB_200_2011'
    }
    checked = set()  # feature sizes: once per backbone
    for path in NEW_CONFIGS:
        cfg = Config.fromfile(path)
        name = osp.basename(path)
        dataset = next(d for d in base_classes if f'_{d}_' in name)
        assert cfg.model.head.num_classes == base_classes[dataset], name
        assert cfg.model.head.type == ('CosineHead' if name.startswith(
            'baseline-plus') else 'LinearHead')
        assert cfg.train_dataloader.dataset.data_root == data_roots[dataset]
        assert cfg.test_dataloader.dataset.dataset.split == 'test'
        assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
        shots = 5 if name.endswith('5shot.py') else 1
        assert cfg.val_dataloader.dataset.num_shots == shots
        assert cfg.test_dataloader.dataset.num_shots == shots
        model = MODELS.build(cfg.model)
        if cfg.model.backbone.type in checked:
            continue
        checked.add(cfg.model.backbone.type)
        expected = 640 if '_resnet12_' in name else 1600
        model.eval()
        with torch.no_grad():
            feats = model.extract_feat(torch.randn(1, 3, 84, 84))
        assert feats.shape == (1, expected), name


@pytest.mark.parametrize('in_channels,pool,stride,size',
                         [(3, True, 1, 32), (1, False, 2, 28)])
def test_conv4_channels_last_same_numbers_and_format(in_channels, pool,
                                                     stride, size):
    """On CPU in eval mode the blocks run in channels_last (from the first
    block whose input has more than one channel), with the outputs and
    gradients of the NCHW network; in training mode (unless
    ``train_channels_last``) and inside the tasks' vmap they are left as
    they come."""
    from mmmtl.models.inner_loop import in_task_vmap, map_tasks
    torch.manual_seed(0)
    net = MODELS.build(
        dict(type='Conv4', in_channels=in_channels, channels=(8, 8, 8, 8),
             pool=pool, stride=stride, track_running_stats=False)).double()
    net.eval()
    formats = []
    for block in net.layers:
        block.register_forward_pre_hook(lambda m, args: formats.append(
            'vmap' if in_task_vmap() else args[0].shape[1] > 1 and args[0].
            is_contiguous(memory_format=torch.channels_last)))
    x = torch.randn(6, in_channels, size, size, dtype=torch.float64)
    out = net(x)
    grads = torch.autograd.grad(out.square().sum(), list(net.parameters()))
    assert formats == [in_channels > 1, True, True, True]
    assert out.is_contiguous()
    formats.clear()
    net.channels_last = False
    ref = net(x)
    ref_grads = torch.autograd.grad(ref.square().sum(),
                                    list(net.parameters()))
    assert formats == [False] * 4
    assert torch.allclose(out, ref, atol=1e-10)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-9)
    net.channels_last = True
    formats.clear()
    tasks = torch.stack([x, x.flip(0)])
    batched = map_tasks(net, (tasks, ), vmap=True)
    assert formats == ['vmap'] * 4
    assert torch.allclose(batched[0], ref, atol=1e-10)
    # training steps stay NCHW unless train_channels_last (the batch steps
    # of transfer learning and ProtoNet), which trains to the same numbers
    formats.clear()
    net.train()
    ref = net(x)
    ref_grads = torch.autograd.grad(ref.square().sum(),
                                    list(net.parameters()))
    assert formats == [False] * 4
    formats.clear()
    net.train_channels_last = True
    out = net(x)
    grads = torch.autograd.grad(out.square().sum(), list(net.parameters()))
    assert formats == [in_channels > 1, True, True, True]
    assert torch.allclose(out, ref, atol=1e-10)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-9)
    formats.clear()
    map_tasks(net, (tasks, ), vmap=True)
    assert formats == ['vmap'] * 4
