import mmcv.transforms  # noqa: F401  (registers mmcv transforms)

from .base import FewShotDataset
from .episodes import (Episode, EpisodicDataset, episode_collate,
                       sample_episode)
from .omniglot import Omniglot

__all__ = [
    'FewShotDataset', 'Omniglot', 'Episode', 'EpisodicDataset',
    'episode_collate', 'sample_episode'
]
