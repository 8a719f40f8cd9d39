"""Wide residual network (Zagoruyko & Komodakis 2016), WRN-28-10 as used for
few-shot learning by S2M2 (Mangla et al. 2020) and LEO (Rusu et al. 2019)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmtl.registry import MODELS


class WideBasicBlock(nn.Module):
    """Pre-activation block: BN, ReLU, conv3x3 (stride), BN, ReLU, dropout,
    conv3x3; 1x1 conv shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 drop_rate: float, track_running_stats: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(
            in_channels, track_running_stats=track_running_stats)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(
            out_channels, track_running_stats=track_running_stats)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.drop_rate = drop_rate
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.relu(self.bn1(x))
        # the projection sees the pre-activated input, as in the paper
        identity = x if self.shortcut is None else self.shortcut(pre)
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return self.conv2(out) + identity


@MODELS.register_module()
class WRN(BaseModule):
    """WRN-``depth``-``widen_factor``: a 3x3 stem of 16 channels, then three
    groups of (depth - 4) / 6 blocks with 16k, 32k, 64k channels (k =
    widen_factor; strides 1, 2, 2), BN-ReLU and global average pooling.
    WRN-28-10 gives 640 features and has about 36.5M parameters; at 84x84
    the final map is 21x21.

    Args:
        depth: 6n + 4 layers (28).
        widen_factor: width multiplier k (10).
        in_channels: image channels.
        drop_rate: dropout between the two convolutions of a block.
        track_running_stats: batch-norm policy. True: running statistics in
            eval mode. False: batch statistics always (required by vmap).
        avg_pool: global average pooling; False flattens the final map.
    """

    def __init__(self,
                 depth: int = 28,
                 widen_factor: int = 10,
                 in_channels: int = 3,
                 drop_rate: float = 0.0,
                 track_running_stats: bool = True,
                 avg_pool: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f'WRN: depth must be 6n + 4 with n >= 1, got '
                             f'{depth}')
        if widen_factor < 1:
            raise ValueError(f'WRN: widen_factor must be >= 1, got '
                             f'{widen_factor}')
        num_blocks = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        groups = []
        prev = 16
        for width, stride in zip(widths, (1, 2, 2)):
            blocks = []
            for i in range(num_blocks):
                blocks.append(
                    WideBasicBlock(prev, width, stride if i == 0 else 1,
                                   drop_rate, track_running_stats))
                prev = width
            groups.append(nn.Sequential(*blocks))
        self.groups = nn.Sequential(*groups)
        self.bn = nn.BatchNorm2d(
            prev, track_running_stats=track_running_stats)
        self.avg_pool = avg_pool
        self.out_channels = prev
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.groups(self.stem(x))))
        if self.avg_pool:
            x = x.mean(dim=(-2, -1))
        return x.flatten(1)
