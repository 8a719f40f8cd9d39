import mmcv.transforms  # noqa: F401  (registers mmcv transforms)

from .base import FewShotDataset
from .cub import CUB
from .episodes import (Episode, EpisodicDataset, episode_collate,
                       sample_episode)
from .image_folder import FewShotImageFolder
from .mini_imagenet import MiniImageNet
from .omniglot import Omniglot
from .samplers import EpisodeStreamSampler
from .tiered_imagenet import TieredImageNet
from .transforms import BGRToRGB, LoadImage, ResizeCenterCrop

__all__ = [
    'FewShotDataset', 'FewShotImageFolder', 'Omniglot', 'MiniImageNet',
    'TieredImageNet', 'CUB',
    'Episode', 'EpisodicDataset', 'episode_collate', 'sample_episode',
    'LoadImage', 'BGRToRGB', 'ResizeCenterCrop',
    'EpisodeStreamSampler'
]
