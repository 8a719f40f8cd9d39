"""The four-block convolutional backbone of few-shot learning (Vinyals et
al. 2016; Snell et al. 2017; Finn et al. 2017)."""
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmtl.registry import MODELS
from ..inner_loop import in_task_vmap


@MODELS.register_module()
class Conv4(BaseModule):
    """``num_blocks`` x [conv3x3, BN, ReLU, 2x2 max-pool], flattened output.

    At 28x28 the output has ``channels[-1]`` features (64), at 84x84
    ``channels[-1] * 5 * 5``.

    Args:
        in_channels: image channels (1 for Omniglot, 3 for RGB).
        channels: filters per block (64 each for Omniglot / ProtoNet; 32
            each for MAML on miniImageNet).
        track_running_stats: batch-norm policy. True: running statistics in
            eval mode (transfer learning). False: batch statistics always
            (the MAML reference's transductive BN; required by vmap).
        bn_affine: learn BN scale and offset.
        pool: max-pool after each block (the MAML Omniglot variant uses
            strided convolutions instead: set False and ``stride=2``).
        stride: convolution stride.
        channels_last: in eval mode on CPU (meta-testing: fine-tuning and
            embedding), feed each block whose input has more than one
            channel in the channels-last memory format (outside the tasks'
            vmap): the same numbers up to float rounding, and the 32x32
            study's meta-test fine-tuning 1.8x faster. Training steps stay
            NCHW, as fast or faster in every regime of
            benchmarks/maml_speed.py, in float32 and under bfloat16 autocast
            (docs/meta_learners.md, "Speed"). The output is the same
            flattened [B, C * H * W] either way.
        train_channels_last: also in training mode (outside the tasks'
            vmap, any device): for the plain batch steps of transfer
            learning and ProtoNet, where channels-last training was 1.3x
            to 1.45x faster at 84x84 in float32 and 1.5x to 2.2x under
            bfloat16 autocast (``benchmarks/train_throughput.py``,
            docs/speed.md). Off for MAML-style steps (see above).
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: Sequence[int] = (64, 64, 64, 64),
                 track_running_stats: bool = True,
                 bn_affine: bool = True,
                 pool: bool = True,
                 stride: int = 1,
                 channels_last: bool = True,
                 train_channels_last: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        layers = []
        prev = in_channels
        for i, out in enumerate(channels):
            block = [
                nn.Conv2d(prev, out, 3, stride=stride, padding=1),
                nn.BatchNorm2d(
                    out,
                    affine=bn_affine,
                    track_running_stats=track_running_stats),
                nn.ReLU(inplace=True)
            ]
            if pool:
                block.append(nn.MaxPool2d(2))
            layers.append(nn.Sequential(*block))
            prev = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = prev
        self.channels_last = channels_last
        self.train_channels_last = train_channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            convert = self.train_channels_last and not in_task_vmap()
        else:
            convert = (self.channels_last and x.device.type == 'cpu'
                       and not in_task_vmap())
        for block in self.layers:
            if convert and x.shape[1] > 1:
                x = x.contiguous(memory_format=torch.channels_last)
            x = block(x)
        return x.flatten(1)
