"""Scaling and shifting (SS) of frozen convolutions (Sun, Liu, Chua, Schiele,
"Meta-Transfer Learning for Few-Shot Learning", CVPR 2019)."""
import torch.nn as nn
from torch import Tensor

SCALE_MODES = ('out', 'out_in')


class ScaleShiftConv2d(nn.Conv2d):
    """A convolution whose pretrained ``weight`` and ``bias`` are frozen and
    modulated by learned ``ss_scale`` (initialised to 1, multiplied into the
    kernel per output channel, or per output and input channel) and
    ``ss_shift`` (initialised to 0, added to the bias).

    With scale 1 and shift 0 it computes exactly the pretrained convolution.
    The pretrained tensors keep their names, so a pretrained checkpoint loads
    unchanged (the SS parameters are new keys).
    """

    def __init__(self, *args, scale_mode: str = 'out', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if scale_mode not in SCALE_MODES:
            raise ValueError(f'ScaleShiftConv2d: scale_mode must be one of '
                             f'{SCALE_MODES}, got {scale_mode!r}')
        in_channels = self.in_channels // self.groups
        shape = ((self.out_channels, 1, 1, 1) if scale_mode == 'out' else
                 (self.out_channels, in_channels, 1, 1))
        self.ss_scale = nn.Parameter(self.weight.new_ones(shape))
        self.ss_shift = nn.Parameter(self.weight.new_zeros(self.out_channels))
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)

    @classmethod
    def from_conv(cls,
                  conv: nn.Conv2d,
                  scale_mode: str = 'out') -> 'ScaleShiftConv2d':
        ss = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            scale_mode=scale_mode).to(conv.weight)
        ss.weight.data.copy_(conv.weight.data)
        if conv.bias is not None:
            ss.bias.data.copy_(conv.bias.data)
        return ss

    def forward(self, x: Tensor) -> Tensor:
        bias = self.ss_shift
        if self.bias is not None:
            bias = self.bias + bias
        return self._conv_forward(x, self.weight * self.ss_scale, bias)


def convert_scale_shift(module: nn.Module,
                        scale_mode: str = 'out',
                        skip_1x1: bool = True) -> nn.Module:
    """Replace, in place, the convolutions of ``module`` by
    :class:`ScaleShiftConv2d` with the same weights (1x1 convolutions, e.g.
    residual shortcuts, are kept frozen without SS when ``skip_1x1``, as
    Sun et al.); every other parameter of ``module`` is frozen. Returns
    ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)
    _convert(module, scale_mode, skip_1x1)
    return module


def _convert(module: nn.Module, scale_mode: str, skip_1x1: bool) -> None:
    for name, child in module.named_children():
        if isinstance(child, ScaleShiftConv2d):
            continue
        if isinstance(child, nn.Conv2d):
            if skip_1x1 and child.kernel_size == (1, 1):
                continue
            setattr(module, name,
                    ScaleShiftConv2d.from_conv(child, scale_mode))
        else:
            _convert(child, scale_mode, skip_1x1)
