"""ResNet-12 of few-shot learning (Oreshkin et al. 2018, TADAM; Lee et al.
2019, MetaOptNet), with DropBlock (Ghiasi et al. 2018)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmtl.registry import MODELS


class DropBlock(nn.Module):
    """Drop ``block_size`` x ``block_size`` squares of a feature map.

    Unlike dropout, contiguous regions go, so the network cannot recover a
    dropped activation from its neighbours. Each position is a block centre
    with probability ``gamma``, chosen so that about ``drop_prob`` of the
    map is dropped; the kept activations are rescaled. Identity in eval
    mode and when ``drop_prob`` is 0.

    Args:
        drop_prob: fraction of activations to drop.
        block_size: side of the dropped squares (clipped to the map size).
    """

    def __init__(self, drop_prob: float = 0.1, block_size: int = 5) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f'DropBlock: drop_prob must be in [0, 1), got '
                             f'{drop_prob}')
        if block_size < 1:
            raise ValueError(f'DropBlock: block_size must be >= 1, got '
                             f'{block_size}')
        self.drop_prob = drop_prob
        self.block_size = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        height, width = x.shape[-2:]
        size = min(self.block_size, height, width)
        # centres only where a whole block fits, as in the paper
        valid_h, valid_w = height - size + 1, width - size + 1
        gamma = (self.drop_prob / size**2 * height * width /
                 (valid_h * valid_w))
        centres = torch.bernoulli(
            torch.full((*x.shape[:-2], valid_h, valid_w),
                       gamma,
                       device=x.device,
                       dtype=x.dtype))
        pad_h, pad_w = size - 1, size - 1
        centres = F.pad(centres, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2,
                                  pad_h - pad_h // 2))
        dropped = F.max_pool2d(
            centres, kernel_size=size, stride=1, padding=size // 2)
        dropped = dropped[..., :height, :width]
        keep = 1.0 - dropped
        return x * keep * (keep.numel() / keep.sum().clamp(min=1.0))

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}, block_size={self.block_size}'


class ResBlock12(nn.Module):
    """3 x [conv3x3, BN, LeakyReLU] (no activation after the last BN) plus a
    1x1 conv + BN shortcut, LeakyReLU, 2x2 max-pool, then DropBlock."""

    def __init__(self, in_channels: int, out_channels: int,
                 track_running_stats: bool, negative_slope: float,
                 drop_block_prob: float, drop_block_size: int) -> None:
        super().__init__()

        def bn() -> nn.BatchNorm2d:
            return nn.BatchNorm2d(
                out_channels, track_running_stats=track_running_stats)

        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
        self.bn1 = bn()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.bn2 = bn()
        self.conv3 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.bn3 = bn()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False), bn())
        self.act = nn.LeakyReLU(negative_slope)
        self.pool = nn.MaxPool2d(2)
        self.drop = DropBlock(drop_block_prob, drop_block_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.act(out + self.shortcut(x))
        return self.drop(self.pool(out))


@MODELS.register_module()
class ResNet12(BaseModule):
    """Four residual blocks of 64-160-320-640 channels, each halving the
    resolution; global average pooling gives 640 features (84x84 input:
    a 5x5 map before pooling).

    Args:
        in_channels: image channels.
        channels: output channels of the four blocks.
        track_running_stats: batch-norm policy. True: running statistics in
            eval mode (transfer learning, metric learning). False: batch
            statistics always (transductive MAML-style BN; required by
            vmap).
        negative_slope: slope of the LeakyReLUs.
        drop_block_prob: DropBlock rate (0 disables it; MetaOptNet: 0.1).
        drop_block_size: DropBlock square side (MetaOptNet: 5).
        drop_block_stages: the blocks (0-based) followed by DropBlock
            (MetaOptNet: the last two).
        avg_pool: global average pooling; False flattens the final map.
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: Sequence[int] = (64, 160, 320, 640),
                 track_running_stats: bool = True,
                 negative_slope: float = 0.1,
                 drop_block_prob: float = 0.0,
                 drop_block_size: int = 5,
                 drop_block_stages: Sequence[int] = (2, 3),
                 avg_pool: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        bad = [s for s in drop_block_stages if not 0 <= s < len(channels)]
        if bad:
            raise ValueError(f'ResNet12: drop_block_stages {bad} out of '
                             f'range for {len(channels)} blocks')
        blocks = []
        prev = in_channels
        for i, out in enumerate(channels):
            blocks.append(
                ResBlock12(
                    prev,
                    out,
                    track_running_stats=track_running_stats,
                    negative_slope=negative_slope,
                    drop_block_prob=(drop_block_prob
                                     if i in drop_block_stages else 0.0),
                    drop_block_size=drop_block_size))
            prev = out
        self.layers = nn.Sequential(*blocks)
        self.avg_pool = avg_pool
        self.out_channels = prev
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='leaky_relu',
                    a=negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(x)
        if self.avg_pool:
            x = x.mean(dim=(-2, -1))
        return x.flatten(1)
