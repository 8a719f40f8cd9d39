"""Base class of the few-shot datasets: a labelled image list for one split,
optionally decoded once into memory."""
import logging
import os
import time
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import CenterCrop, LoadImageFromFile, Resize
from mmengine.dataset import BaseDataset, Compose
from mmengine.logging import print_log

from .transforms import LoadImage, ResizeCenterCrop

# What ``cache_images`` may run once per image instead of once per item: a
# loading transform, then transforms whose output depends on their input
# only (no randomness, no state). Matched by exact type: a subclass may add
# randomness.
_CACHE_LOADERS = (LoadImage, LoadImageFromFile)
_CACHE_DETERMINISTIC = (Resize, CenterCrop, ResizeCenterCrop)


def default_cache_max_bytes() -> int:
    """A quarter of the machine's physical memory: what ``cache_images`` may
    take per split by default."""
    try:
        return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // 4
    except (AttributeError, ValueError, OSError):  # no sysconf: 4 GB
        return 4 << 30


class FewShotDataset(BaseDataset):
    """One split (train / val / test classes) of a few-shot benchmark.

    ``data_list`` entries hold ``gt_label`` (index into ``classes``) and one
    of ``img`` (a decoded array kept in memory), ``img_bytes`` (encoded,
    decoded lazily) or ``img_path``. Subclasses implement
    :meth:`load_data_list` and set ``self._classes`` there.

    Data stays unserialised by default: the decoded images are shared numpy
    views, and pickling them into mmengine's byte buffer only costs time.

    ``SPLITS`` lists the valid ``split`` names of a benchmark (empty: the
    subclass checks ``split`` itself).

    ``cache_images=True`` decodes the split once, at initialisation, for
    CPU runs where per-item JPEG / PNG decoding is a large part of the
    data time: the pipeline's leading deterministic transforms (a loading
    transform, ``LoadImage`` or mmcv's ``LoadImageFromFile``, then any
    ``Resize``, ``CenterCrop`` or ``ResizeCenterCrop`` right after it) run
    once per image and their output (uint8 ``img`` and its metadata)
    replaces the entry in ``data_list``; ``pipeline`` becomes the remaining
    transforms, so that an item costs a copy of its array plus those. Items
    are the same as without the cache (the transforms and their order are
    the same). Images of one shape share one contiguous array. Memory: the
    cached images, e.g. 38,400 x 84 x 84 x 3 bytes = 813 MB for the
    miniImageNet train split at 84x84. Where the split would take more than
    ``cache_max_bytes`` (default: a quarter of this machine's memory), as
    full-size ImageNet files ahead of a random crop would, the dataset
    logs a warning and decodes per item instead.
    """

    SPLITS: tuple = ()

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 pipeline: Sequence = (),
                 serialize_data: bool = False,
                 lazy_init: bool = False,
                 cache_images: bool = False,
                 cache_max_bytes: Optional[int] = None,
                 **kwargs) -> None:
        if self.SPLITS and split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split '
                             f'{split!r}; choose from {self.SPLITS}')
        if cache_images and serialize_data:
            raise ValueError(f'{type(self).__name__}: cache_images=True '
                             'keeps decoded arrays in data_list; it cannot '
                             'be combined with serialize_data=True')
        self.split = split
        self.cache_images = cache_images
        self.cache_max_bytes = (default_cache_max_bytes()
                                if cache_max_bytes is None else
                                cache_max_bytes)
        self.cached_transforms: list = []
        self.cached_bytes = 0
        self._classes: List[str] = []
        super().__init__(
            data_root=data_root,
            pipeline=list(pipeline),
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            **kwargs)

    def full_init(self) -> None:
        # mmengine's BaseDataset keeps its init state in this flag only (no
        # public property); the steps below must run once, as its own do
        if self._fully_initialized:
            return
        super().full_init()
        # ``metainfo`` is a deep copy with no setter; the class names are
        # known once load_data_list has run
        self._metainfo['classes'] = tuple(self._classes)
        labels = self.get_gt_labels()
        self._class_to_indices = [
            np.flatnonzero(labels == c) for c in range(len(self._classes))
        ]
        if self.cache_images:
            self._decode_into_memory()

    def _decode_into_memory(self) -> None:
        """Run the pipeline's leading deterministic transforms once per image
        (see the class docstring) and keep their output in ``data_list``."""
        transforms = list(self.pipeline.transforms)
        count = 0
        if transforms and type(transforms[0]) in _CACHE_LOADERS:
            count = 1
            while (count < len(transforms)
                   and type(transforms[count]) in _CACHE_DETERMINISTIC):
                count += 1
        if count == 0:
            first = transforms[0] if transforms else 'an empty pipeline'
            raise ValueError(
                f'{type(self).__name__} (split={self.split!r}): '
                'cache_images=True needs a pipeline that starts with an '
                'image loading transform (LoadImage or '
                f'LoadImageFromFile), got {first}')
        prefix = Compose(transforms[:count])
        start = time.perf_counter()
        shared = None  # one array for all images while their shapes agree
        for i, info in enumerate(self.data_list):
            where = (f'{type(self).__name__} (split={self.split!r}): '
                     f'cache_images: item {i} '
                     f'({info.get("img_path", "in memory")})')
            try:
                results = prefix(dict(info, sample_idx=i))
            except Exception as err:  # loaders raise many types
                raise ValueError(f'{where}: {err}') from err
            if results is None:
                raise ValueError(f'{where}: the pipeline gave no image')
            results.pop('sample_idx')
            img = results['img']
            if i == 0:
                needed = img.nbytes * len(self.data_list)
                if needed > self.cache_max_bytes:
                    print_log(
                        f'{type(self).__name__} (split={self.split!r}): '
                        f'cache_images: {len(self.data_list)} images like '
                        f'the first ({img.shape}) would take about '
                        f'{needed / 1e9:.1f} GB, over cache_max_bytes '
                        f'({self.cache_max_bytes / 1e9:.1f} GB); decoding '
                        'per item instead (pre-cut images, or a Resize '
                        'right after loading, make the cache small)',
                        logger='current',
                        level=logging.WARNING)
                    self.cache_images = False
                    return
                shared = np.empty((len(self.data_list), ) + img.shape,
                                  img.dtype)
            if (shared is not None and img.shape == shared.shape[1:]
                    and img.dtype == shared.dtype):
                shared[i] = img
                results['img'] = shared[i]
            elif shared is not None:  # mixed shapes: one array per image
                for earlier in self.data_list[:i]:
                    earlier['img'] = earlier['img'].copy()
                shared = None
            self.data_list[i] = results
        self.cached_bytes = sum(info['img'].nbytes
                                for info in self.data_list)
        self.cached_transforms = transforms[:count]
        self.pipeline = Compose(transforms[count:])
        print_log(
            f'{type(self).__name__} (split={self.split!r}): decoded '
            f'{len(self.data_list)} images into memory '
            f'({self.cached_bytes / 1e6:.0f} MB) in '
            f'{time.perf_counter() - start:.1f} s by '
            f'{[type(t).__name__ for t in self.cached_transforms]}',
            logger='current')

    def prepare_data(self, idx: int):
        """The item through the pipeline; an error while loading a file
        (e.g. a zero-byte JPEG, which OpenCV rejects without naming it) is
        raised again naming the image."""
        try:
            return super().prepare_data(idx)
        except Exception as err:
            path = self.get_data_info(idx).get('img_path')
            if path is None or path in str(err):
                raise
            raise ValueError(
                f'{type(self).__name__}: the pipeline failed on image {path}'
                f' ({type(err).__name__}: {err})') from err

    @property
    def classes(self) -> tuple:
        self.full_init()
        return self.metainfo['classes']

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def get_gt_labels(self) -> np.ndarray:
        """Global class label of every image, in data_list order."""
        if not hasattr(self, '_gt_labels'):
            infos = (self.data_list if not self.serialize_data else
                     (self.get_data_info(i) for i in range(len(self))))
            self._gt_labels = np.array([info['gt_label'] for info in infos],
                                       dtype=np.int64)
        return self._gt_labels

    @property
    def class_to_indices(self) -> List[np.ndarray]:
        """Image indices of each class (list indexed by class label)."""
        self.full_init()
        return self._class_to_indices

    def check_images_per_class(self, needed: int,
                               what: Optional[str] = None) -> None:
        """Raise a ValueError naming every class with fewer than ``needed``
        images (e.g. fewer than shots + queries)."""
        short = [(self.classes[c], len(idx))
                 for c, idx in enumerate(self.class_to_indices)
                 if len(idx) < needed]
        if short:
            listed = ', '.join(f'{name!r} ({n})' for name, n in short[:10])
            more = f' and {len(short) - 10} more' if len(short) > 10 else ''
            raise ValueError(
                f'{type(self).__name__} (split={self.split!r}, '
                f'data_root={self.data_root!r}): '
                f'{len(short)} classes have fewer than {needed} images '
                f'{what or ""}: {listed}{more}')
