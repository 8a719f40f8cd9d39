"""Use any mmpretrain backbone (``dict(type='mmpretrain.ResNet', ...)``) as a
few-shot feature extractor."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmmtl.registry import MODELS


def _last_channels(module: nn.Module) -> Optional[int]:
    """Channels of the last conv / norm layer, a fallback for backbones
    without ``feat_dim`` / ``out_channels``."""
    channels = None
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            channels = m.num_features
        elif isinstance(m, nn.Conv2d):
            channels = m.out_channels
    return channels


@MODELS.register_module()
class MMPretrainBackbone(BaseModule):
    """Wraps an mmpretrain backbone so that it returns ``[B, C]`` features.

    mmpretrain backbones return a tuple of stage outputs; the classifiers
    here expect one flat feature vector per image. This keeps the last
    (or the ``out_index``-th) output and average-pools it when spatial.

    Args:
        backbone: the mmpretrain backbone config, e.g.
            ``dict(type='mmpretrain.ResNet', depth=18)``.
        out_index: which element of the output tuple to use.
        out_channels: feature size; by default the backbone's ``feat_dim``
            / ``out_channels`` or the channels of its last conv / norm.
    """

    def __init__(self,
                 backbone: dict,
                 out_index: int = -1,
                 out_channels: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.out_index = out_index
        if out_channels is None:
            for attr in ('feat_dim', 'out_channels', 'embed_dims'):
                value = getattr(self.backbone, attr, None)
                if isinstance(value, int):
                    out_channels = value
                    break
            else:
                out_channels = _last_channels(self.backbone)
        if out_channels is None:
            raise ValueError(f'MMPretrainBackbone: cannot tell the feature '
                             f'size of {backbone.get("type")}; set '
                             'out_channels')
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        if isinstance(out, (tuple, list)):
            out = out[self.out_index]
        if out.dim() == 4:
            out = out.mean(dim=(-2, -1))
        elif out.dim() != 2:
            raise ValueError(f'MMPretrainBackbone: expected [B, C, H, W] or '
                             f'[B, C] features, got shape {tuple(out.shape)}')
        return out
