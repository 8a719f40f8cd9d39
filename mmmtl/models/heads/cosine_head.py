import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS


@MODELS.register_module()
class CosineHead(nn.Module):
    """Scaled cosine-similarity classifier (Chen et al.'s "Baseline++").

    Args:
        in_channels: feature size.
        num_classes: number of classes.
        scale: temperature multiplied into the cosine similarities.
        learnable_scale: learn the scale as well.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 scale: float = 10.0,
                 learnable_scale: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        scale = torch.tensor(float(scale))
        if learnable_scale:
            self.scale = nn.Parameter(scale)
        else:
            self.register_buffer('scale', scale)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(feats, dim=-1) @ F.normalize(
            self.weight, dim=-1).t()

    def prototype_params(self, prototypes: torch.Tensor) -> dict:
        """Parameters of weight imprinting: start from the class means, i.e.
        from a cosine nearest-centroid classifier."""
        params = {n: p.detach() for n, p in self.named_parameters()}
        params['weight'] = F.normalize(prototypes, dim=-1)
        return params
