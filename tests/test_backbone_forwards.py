"""Backbone forwards against references written out here with
torch.nn.functional on the same fixed weights (float64): Conv4, ResNet12
(block order, residual sum, activation slope, pooling, DropBlock), WRN
(pre-activation, dropout placement) and the mmpretrain wrapper. Batch norm
with random affine parameters and running statistics, so that a skipped or
misplaced layer changes the numbers."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS


def build(cfg: dict) -> nn.Module:
    """The backbone in float64 with random batch-norm parameters and
    running statistics (fixed seed)."""
    torch.manual_seed(0)
    model = MODELS.build(cfg).double()
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                if m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen)
                                   + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) *
                                 0.5)
                if m.track_running_stats:
                    m.running_mean.copy_(
                        torch.randn(m.num_features, generator=gen) * 0.3)
                    m.running_var.copy_(
                        torch.rand(m.num_features, generator=gen) + 0.5)
    return model


def images(batch: int, channels: int, size: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    return torch.randn(batch, channels, size, size, generator=gen,
                       dtype=torch.float64)


def bn(x: torch.Tensor, m: nn.Module, training: bool) -> torch.Tensor:
    """Batch norm by F.batch_norm: batch statistics when ``training`` or
    when ``m`` keeps none, else ``m``'s running statistics."""
    batch_stats = training or not m.track_running_stats
    return F.batch_norm(
        x,
        None if batch_stats else m.running_mean,
        None if batch_stats else m.running_var,
        m.weight,
        m.bias,
        training=batch_stats,
        eps=m.eps)


def conv4_reference(net, x, training):
    """conv3x3 (padding 1) -> BN -> ReLU -> 2x2 max-pool, per block."""
    for block in net.layers:
        conv, norm = block[0], block[1]
        x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        x = F.max_pool2d(F.relu(bn(x, norm, training)), 2)
    return x.flatten(1)


@pytest.mark.parametrize('size,features', [(28, 4), (84, 4 * 5 * 5)])
@pytest.mark.parametrize('training', [True, False])
def test_conv4_is_conv_bn_relu_pool(size, features, training):
    net = build(dict(type='Conv4', in_channels=3, channels=(3, 4, 5, 4)))
    net.train(training)
    x = images(3, 3, size)
    out = net(x)
    assert out.shape == (3, features)
    assert torch.allclose(out, conv4_reference(net, x, training),
                          atol=1e-12)


def resnet12_reference(net, x, slope, training, drop=False):
    """Per block: 3 x conv3x3 (no bias) + BN, LeakyReLU(slope) after the
    first two; plus the 1x1 conv + BN shortcut; LeakyReLU of the sum, 2x2
    max-pool, then (``drop``) the block's DropBlock; global average pool.
    """
    for b in net.layers:
        out = F.leaky_relu(bn(F.conv2d(x, b.conv1.weight, padding=1), b.bn1,
                              training), slope)
        out = F.leaky_relu(bn(F.conv2d(out, b.conv2.weight, padding=1),
                              b.bn2, training), slope)
        out = bn(F.conv2d(out, b.conv3.weight, padding=1), b.bn3, training)
        short = bn(F.conv2d(x, b.shortcut[0].weight), b.shortcut[1],
                   training)
        x = F.max_pool2d(F.leaky_relu(out + short, slope), 2)
        if drop:
            x = b.drop(x)
    return x


RESNET12 = dict(type='ResNet12', in_channels=3, channels=(4, 5, 6, 7),
                negative_slope=0.2)


@pytest.mark.parametrize('training', [True, False])
def test_resnet12_blocks_residual_slope_and_pooling(training):
    """Eval mode with running statistics and DropBlock configured (off in
    eval); training mode with batch statistics and DropBlock at 0."""
    net = build(dict(RESNET12, drop_block_prob=0.0 if training else 0.5))
    net.train(training)
    x = images(3, 3, 32)
    expected = resnet12_reference(net, x, 0.2, training)
    assert torch.allclose(net(x), expected.mean(dim=(2, 3)), atol=1e-12)
    flat = build(dict(RESNET12, avg_pool=False))
    flat.train(training)
    assert torch.allclose(flat(x), expected.flatten(1), atol=1e-12)


def test_resnet12_dropblock_follows_the_pool_of_its_stages():
    """Training with DropBlock on the last two stages: the same random
    squares drawn after the max-pool of those stages (same seed)."""
    net = build(dict(RESNET12, drop_block_prob=0.3, drop_block_size=2))
    assert [b.drop.drop_prob for b in net.layers] == [0, 0, 0.3, 0.3]
    net.train()
    x = images(3, 3, 32)
    torch.manual_seed(7)
    out = net(x)
    torch.manual_seed(7)
    expected = resnet12_reference(net, x, 0.2, True, drop=True)
    assert torch.allclose(out, expected.mean(dim=(2, 3)), atol=1e-12)
    torch.manual_seed(7)
    no_drop = resnet12_reference(net, x, 0.2, True)
    assert not torch.allclose(out, no_drop.mean(dim=(2, 3)), atol=1e-3)


def wrn_reference(net, x, training, p):
    """Stem conv; per block BN-ReLU, conv3x3 (stride), BN-ReLU, dropout(p),
    conv3x3, plus the identity or the 1x1 projection of the pre-activated
    input; final BN-ReLU."""
    x = F.conv2d(x, net.stem.weight, padding=1)
    for group in net.groups:
        for b in group:
            pre = F.relu(bn(x, b.bn1, training))
            stride = b.conv1.stride
            identity = x if b.shortcut is None else F.conv2d(
                pre, b.shortcut.weight, stride=stride)
            out = F.conv2d(pre, b.conv1.weight, stride=stride, padding=1)
            out = F.relu(bn(out, b.bn2, training))
            out = F.dropout(out, p, training)
            x = F.conv2d(out, b.conv2.weight, padding=1) + identity
    return F.relu(bn(x, net.bn, training))


@pytest.mark.parametrize('training', [True, False])
def test_wrn_preactivation_blocks_and_dropout_placement(training):
    """WRN-16-1 (two blocks per group: identity and projection
    shortcuts), dropout 0.3 between the convolutions (same seed in
    training), running statistics in eval; pooled and flat outputs."""
    cfg = dict(type='WRN', depth=16, widen_factor=1, drop_rate=0.3)
    net = build(cfg)
    assert net.out_channels == 64
    net.train(training)
    x = images(3, 3, 16)
    torch.manual_seed(3)
    out = net(x)
    torch.manual_seed(3)
    expected = wrn_reference(net, x, training, 0.3)
    assert torch.allclose(out, expected.mean(dim=(2, 3)), atol=1e-12)
    flat = build(dict(cfg, avg_pool=False))
    flat.train(training)
    torch.manual_seed(3)
    assert torch.allclose(flat(x), expected.flatten(1), atol=1e-12)
    if training:  # the dropout acts: without it the numbers differ
        no_drop = wrn_reference(net, x, True, 0.0)
        assert not torch.allclose(out, no_drop.mean(dim=(2, 3)), atol=1e-3)


def test_mmpretrain_backbone_pools_the_chosen_stage():
    """MMPretrainBackbone = the wrapped mmpretrain ResNet's ``out_index``-th
    stage output, average-pooled."""
    net = build(
        dict(type='MMPretrainBackbone', out_index=1,
             backbone=dict(type='mmpretrain.ResNet', depth=18,
                           out_indices=(1, 2, 3))))
    net.eval()
    x = images(2, 3, 32)
    with torch.no_grad():
        stages = net.backbone(x)
        out = net(x)
    assert [s.shape[1] for s in stages] == [128, 256, 512]
    assert torch.allclose(out, stages[1].mean(dim=(2, 3)), atol=1e-12)
    last = build(
        dict(type='MMPretrainBackbone',
             backbone=dict(type='mmpretrain.ResNet', depth=18)))
    assert last.out_channels == 512
    classifier = MODELS.build(
        dict(type='TransferClassifier', backbone=dict(
            type='MMPretrainBackbone',
            backbone=dict(type='mmpretrain.ResNet', depth=18,
                          out_indices=(2, ))),
             head=dict(type='LinearHead', in_channels=256,
                       num_classes=5))).double()
    classifier.eval()
    labels = torch.tensor([0, 1, 2, 3])
    x = images(4, 3, 32)
    stage = classifier.backbone.backbone(x)[0].mean(dim=(2, 3))
    expected = F.cross_entropy(classifier.head(stage), labels)
    losses = classifier.loss(x, dict(gt_label=labels))
    assert losses['loss'].requires_grad
    assert torch.allclose(losses['loss'], expected, atol=1e-12)


def test_wrn_depth_must_be_6n_plus_4():
    with pytest.raises(ValueError, match='6n \\+ 4'):
        MODELS.build(dict(type='WRN', depth=27))
