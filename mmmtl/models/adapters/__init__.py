from .base import BaseAdapter
from .centroid import Centroid
from .finetune import Finetune
from .linear_probe import LinearProbe

__all__ = ['BaseAdapter', 'Centroid', 'Finetune', 'LinearProbe']
