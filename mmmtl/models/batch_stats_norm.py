"""Batch normalisation with current-batch statistics, written with plain
tensor ops under ``torch.func.vmap`` (where it must be differentiable twice)
and with the fused kernel elsewhere."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .inner_loop import in_task_vmap


class BatchStatsNorm(nn.modules.batchnorm._BatchNorm):
    """Normalise with the statistics of the current batch, always (no
    running statistics), as BN in the MAML reference.

    Same parameters (``weight``, ``bias``) and results as
    ``nn.BatchNorm2d(..., track_running_stats=False)``. Inside the tasks'
    ``torch.func.vmap`` (:func:`~mmmtl.models.inner_loop.map_tasks`) it is
    built from means and elementwise ops: in torch 2.13 the second
    derivative of the fused batch-norm kernel is wrong under vmap, which
    would corrupt the vmapped second-order MAML meta-gradient. Elsewhere (the
    per-task loop, meta-test) it calls the fused kernel, whose second
    derivative is right there and which makes a second-order MAML step about
    1.3x faster (benchmarks/maml_speed.py).
    """

    def __init__(self,
                 num_features: int,
                 eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__(
            num_features, eps, affine=affine, track_running_stats=False)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'BatchStatsNorm expects [B, C, ...] inputs, '
                             f'got shape {tuple(input.shape)}')

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not in_task_vmap():
            return F.batch_norm(x, None, None, self.weight, self.bias, True,
                                0.0, self.eps)
        centred = x - _channel_mean(x)
        out = centred * torch.rsqrt(_channel_mean(centred * centred) +
                                    self.eps)
        if not self.affine:
            return out
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        return torch.addcmul(self.bias.view(shape), out,
                             self.weight.view(shape))


def _channel_mean(x: Tensor) -> Tensor:
    """Mean over every dim but the channels (dim 1), kept as size 1. Spatial
    dims first, then the batch: on CPU 1.5-2.5x faster than one reduction
    over (0, 2, 3) (``torch.var_mean``), which strides across the layout
    (benchmarks/batch_stats_norm_speed.py)."""
    if x.dim() > 2:  # (an empty dim tuple would reduce over every dim)
        x = x.mean(tuple(range(2, x.dim())), keepdim=True)
    return x.mean(0, keepdim=True)


def convert_batch_stats_norm(module: nn.Module) -> nn.Module:
    """Replace, in place, every batch-norm layer of ``module`` that keeps no
    running statistics by a :class:`BatchStatsNorm` holding the same
    parameters; returns ``module``."""
    for name, child in module.named_children():
        if (isinstance(child, nn.modules.batchnorm._BatchNorm)
                and not isinstance(child, BatchStatsNorm)
                and not child.track_running_stats):
            norm = BatchStatsNorm(child.num_features, child.eps, child.affine)
            if child.affine:
                norm.weight = child.weight
                norm.bias = child.bias
            setattr(module, name, norm)
        else:
            convert_batch_stats_norm(child)
    return module
