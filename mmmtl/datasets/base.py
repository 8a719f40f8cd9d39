"""Base class of the few-shot datasets: a labelled image list for one split."""
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset


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
    """

    SPLITS: tuple = ()

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 pipeline: Sequence = (),
                 serialize_data: bool = False,
                 lazy_init: bool = False,
                 **kwargs) -> None:
        if self.SPLITS and split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split '
                             f'{split!r}; choose from {self.SPLITS}')
        self.split = split
        self._classes: List[str] = []
        super().__init__(
            data_root=data_root,
            pipeline=list(pipeline),
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            **kwargs)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self._metainfo['classes'] = tuple(self._classes)
        labels = self.get_gt_labels()
        self._class_to_indices = [
            np.flatnonzero(labels == c) for c in range(len(self._classes))
        ]

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
        return self._metainfo['classes']

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
                f'{type(self).__name__} (data_root={self.data_root!r}): '
                f'{len(short)} classes have fewer than {needed} images '
                f'{what or ""}: {listed}{more}')
