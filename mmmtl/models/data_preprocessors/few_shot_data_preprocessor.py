from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import nn

from mmmtl.registry import MODELS


@MODELS.register_module()
class FewShotDataPreprocessor(BaseDataPreprocessor):
    """Moves a plain batch or a meta-batch to the device and normalises it.

    Input: ``img`` ([B, C, H, W] or episodes [T, M, C, H, W], uint8 or
    float) plus label fields. Output: ``dict(inputs=float images,
    data_samples=every other field)``. mmengine's ImgDataPreprocessor only
    takes 4-D batches, hence this class for the 5-D episodic layout.

    Args:
        mean, std: per-channel statistics, in the pixel scale of ``img``.
        batch_augments: configs of modules (e.g. :class:`BatchColorJitter`)
            applied in turn to the training batches, before normalisation,
            in the pixel scale of ``img``: augmentation of the whole batch
            at once rather than per image in the data pipeline (episodic
            [T, M, ...] batches as T * M images). Not applied at validation
            or meta-test.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 batch_augments: Optional[Sequence[dict]] = None) -> None:
        super().__init__()
        self.batch_augments = nn.ModuleList(
            MODELS.build(cfg) for cfg in batch_augments or ())
        self._normalize = mean is not None
        if self._normalize:
            if std is None or len(std) != len(mean):
                raise ValueError('FewShotDataPreprocessor: std must be given '
                                 'with mean, one value per channel')
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1),
                                 False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1),
                                 False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(dict(data))
        if 'img' not in data:
            raise KeyError('FewShotDataPreprocessor: the batch has no "img" '
                           f'field (fields: {sorted(data)})')
        inputs = data.pop('img').float()
        if training and len(self.batch_augments):
            images = inputs.flatten(0, -4)
            for augment in self.batch_augments:
                images = augment(images)
            inputs = images.view(inputs.shape)
        if self._normalize:
            inputs = (inputs - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data)
