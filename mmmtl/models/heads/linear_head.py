import torch
import torch.nn as nn

from mmmtl.registry import MODELS


@MODELS.register_module()
class LinearHead(nn.Module):
    """Fully connected classifier (Chen et al.'s "Baseline").

    ``zero_init`` starts from zero weights (Eshratifar et al.'s heads; also a
    good start for test-time fine-tuning, where the problem is convex).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 zero_init: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)
        if zero_init:
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fc(feats)

    def prototype_params(self, prototypes: torch.Tensor) -> dict:
        """Parameters of the prototypical initialisation (Triantafillou et
        al.'s Proto-MAML): logits equal the negative squared distances to the
        class means up to a per-input constant."""
        return {
            'fc.weight': 2 * prototypes,
            'fc.bias': -prototypes.pow(2).sum(1)
        }
