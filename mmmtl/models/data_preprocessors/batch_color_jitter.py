"""Colour jitter applied to a whole batch in the data preprocessor rather
than to each image in the data pipeline."""
from typing import Optional

import torch
from torch import Tensor, nn

from mmmtl.registry import MODELS

# RGB weights of the luminance PIL's and OpenCV's grey conversions use
GRAY = (0.299, 0.587, 0.114)


@MODELS.register_module()
class BatchColorJitter(nn.Module):
    """mmpretrain's ``ColorJitter`` (brightness, contrast, saturation) on a
    batch of RGB images in the 0-255 scale, [B, 3, H, W].

    Each image draws its own factors, uniform in ``[max(0, 1 - x), 1 + x]``
    for ``x`` = ``brightness``, ``contrast``, ``saturation``, and its own
    order of the three operations, as the per-image transform does:
    brightness blends with black, contrast with the image's mean grey
    level, saturation with its grey image, each result clipped to 0-255.
    The values stay floating point between operations (the per-image
    transform rounds to uint8 after each). Why: on one CPU thread the
    per-image transform took 459 us of the 770 us an 84x84 training image
    cost in the pipeline; here the batch of 128 costs about 15 ms
    (docs/speed.md).

    Args:
        brightness, contrast, saturation: jitter strength (0: off).

    Example:
        >>> import torch
        >>> jitter = BatchColorJitter(brightness=0.4)
        >>> images = torch.full((2, 3, 4, 4), 100.)
        >>> out = jitter.jitter(images, torch.tensor([[0.5, 1., 1.],
        ...                                           [1.5, 1., 1.]]),
        ...                    torch.tensor([[0, 1, 2], [2, 1, 0]]))
        >>> out[:, 0, 0, 0]
        tensor([ 50., 150.])
    """

    def __init__(self,
                 brightness: float = 0.,
                 contrast: float = 0.,
                 saturation: float = 0.) -> None:
        super().__init__()
        strengths = (brightness, contrast, saturation)
        if any(not (0 <= s < float('inf')) for s in strengths):
            raise ValueError('BatchColorJitter: brightness, contrast and '
                             'saturation must be finite and >= 0, got '
                             f'{strengths}')
        self.strengths = strengths

    def forward(self, images: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        count = images.shape[0]
        low = torch.tensor([max(0., 1 - s) for s in self.strengths])
        high = torch.tensor([1 + s for s in self.strengths])
        factors = low + (high - low) * torch.rand(
            count, 3, generator=generator)
        order = torch.rand(count, 3, generator=generator).argsort(dim=1)
        return self.jitter(images, factors.to(images.device),
                          order.to(images.device))

    def jitter(self, images: Tensor, factors: Tensor,
               order: Tensor) -> Tensor:
        """``images`` jittered by ``factors`` ([B, 3]: brightness, contrast,
        saturation) in ``order`` ([B, 3], a permutation of 0, 1, 2 per
        image); a factor of 1 leaves the image as it is."""
        images = images.clone()
        for position in range(3):
            for op in range(3):
                if self.strengths[op] == 0:
                    continue
                chosen = (order[:, position] == op).nonzero().flatten()
                if len(chosen):
                    images[chosen] = self._blend(
                        images[chosen], factors[chosen, op], op)
        return images

    @staticmethod
    def _blend(images: Tensor, factor: Tensor, op: int) -> Tensor:
        factor = factor.view(-1, 1, 1, 1).to(images.dtype)
        if op == 0:  # brightness: towards black
            out = images * factor
        else:
            weights = images.new_tensor(GRAY).view(1, 3, 1, 1)
            gray = (images * weights).sum(1, keepdim=True)
            if op == 1:  # contrast: towards the mean grey level
                gray = gray.mean((2, 3), keepdim=True)
            out = torch.lerp(gray, images, factor)
        return out.clamp_(0, 255)
