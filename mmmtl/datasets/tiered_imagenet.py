"""tieredImageNet (Ren et al. 2018): 608 ImageNet classes grouped into 34
categories, split by category into 351 / 97 / 160 classes."""
import os.path as osp
import pickle
from typing import List

import numpy as np

from mmmtl.registry import DATASETS
from .base import FewShotDataset

_LABEL_KEYS = ('label_specific', 'label_general', 'label_specific_str',
               'label_general_str')
_LAYOUT_HELP = (
    'Expected data_root to hold, for each split in train / val / test, '
    '{split}_images_png.pkl (a pickled list of PNG-encoded images) and '
    '{split}_labels.pkl (a pickled dict with label_specific, label_general, '
    'label_specific_str, label_general_str), as in the release of Ren et '
    'al. See docs/datasets.md or run tools/data/prepare_tiered_imagenet.py.')


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of Python 3 bytes use it,
    for latin-1 only."""
    if encoding not in ('latin1', 'latin-1') or not isinstance(text, str):
        raise pickle.UnpicklingError(
            f'refused _codecs.encode with encoding {encoding!r}')
    return text.encode('latin1')


def _plain_data_globals() -> dict:
    """``(module, name) -> object`` a pickle of plain data may refer to:
    numpy's array / dtype / scalar reconstruction (under the numpy 1 and
    numpy 2 module names) and latin-1 bytes."""
    core = np._core if hasattr(np, '_core') else np.core
    allowed = {
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
        ('_codecs', 'encode'): _latin1_bytes,
    }
    for name in ('numpy.core', 'numpy._core'):
        allowed[(f'{name}.multiarray', '_reconstruct')] = (
            core.multiarray._reconstruct)
        allowed[(f'{name}.multiarray', 'scalar')] = core.multiarray.scalar
        allowed[(f'{name}.numeric', '_frombuffer')] = core.numeric._frombuffer
    return allowed


class PlainDataUnpickler(pickle.Unpickler):
    """Unpickles plain data only: dicts, lists, tuples, str, bytes, numbers
    and numpy arrays / scalars of them. Any other class or function in the
    pickle (the way a pickle runs code) is refused.

    The release's pickles are Python 2 ones (``encoding='latin1'``) holding
    numpy arrays, lists and str; they need numpy's array reconstruction and
    nothing else.
    """

    ALLOWED = _plain_data_globals()

    def __init__(self, file) -> None:
        super().__init__(file, encoding='latin1')

    def find_class(self, module: str, name: str):
        allowed = self.ALLOWED.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(
                f'refers to {module}.{name}, but only plain data (dict, list, '
                'str, numbers, numpy arrays) is loaded from a pickle, nothing '
                'that could run code')
        return allowed

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(
            'holds a persistent id, but only plain data is loaded')


def load_plain_pickle(path: str):
    """Read a pickle of plain data with :class:`PlainDataUnpickler`; errors
    name ``path``."""
    with open(path, 'rb') as f:
        try:
            return PlainDataUnpickler(f).load()
        except pickle.UnpicklingError as err:
            raise pickle.UnpicklingError(f'{path}: {err}') from None
        except (EOFError, ValueError, TypeError) as err:
            raise ValueError(f'{path} is not a readable pickle '
                             f'(truncated or damaged?): {err}') from err


def _as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _as_bytes(value):
    """PNG data as ``bytes`` (Python 2 ``str`` pickles load as latin1
    text; numpy arrays are kept, the loader takes them as they are)."""
    if isinstance(value, str):
        return value.encode('latin1')
    if isinstance(value, (bytes, np.ndarray)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f'unexpected image entry of type {type(value).__name__}')


@DATASETS.register_module()
class TieredImageNet(FewShotDataset):
    """tieredImageNet from the pickles of its release.

    ``data_list`` holds ``img_bytes`` (PNG) decoded lazily by the
    ``LoadImage`` transform, ``gt_label`` (the fine class,
    ``label_specific``) and ``general_label`` (the category). Class names
    are ``label_specific_str`` (wnids), in label order.

    Args:
        data_root: folder with ``{split}_images_png.pkl`` and
            ``{split}_labels.pkl``.
        split: ``train`` (351 classes), ``val`` (97) or ``test`` (160).
    """

    SPLITS = ('train', 'val', 'test')

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        images_path = osp.join(root, f'{self.split}_images_png.pkl')
        labels_path = osp.join(root, f'{self.split}_labels.pkl')
        for path in (labels_path, images_path):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'TieredImageNet: {path} not found. {_LAYOUT_HELP}')

        labels = load_plain_pickle(labels_path)
        if not isinstance(labels, dict):
            raise ValueError(f'TieredImageNet: {labels_path} holds a '
                             f'{type(labels).__name__}, not a dict. '
                             f'{_LAYOUT_HELP}')
        labels = {_as_text(k): v for k, v in labels.items()}
        missing = [k for k in _LABEL_KEYS if k not in labels]
        if missing:
            raise ValueError(f'TieredImageNet: {labels_path} lacks the keys '
                             f'{missing} (has {sorted(labels)}). '
                             f'{_LAYOUT_HELP}')
        specific = np.asarray(labels['label_specific'], dtype=np.int64)
        general = np.asarray(labels['label_general'], dtype=np.int64)
        names = [_as_text(n) for n in labels['label_specific_str']]

        images = load_plain_pickle(images_path)
        if not isinstance(images, (list, tuple, np.ndarray)):
            raise ValueError(f'TieredImageNet: {images_path} holds a '
                             f'{type(images).__name__}, not a list of PNG '
                             f'images. {_LAYOUT_HELP}')
        if not (len(images) == len(specific) == len(general)):
            raise ValueError(
                f'TieredImageNet: {images_path} holds {len(images)} images '
                f'but {labels_path} has {len(specific)} label_specific and '
                f'{len(general)} label_general entries')
        if len(specific) and (specific.min() < 0
                              or specific.max() >= len(names)):
            raise ValueError(
                f'TieredImageNet: {labels_path}: label_specific spans '
                f'[{specific.min()}, {specific.max()}] but '
                f'label_specific_str names {len(names)} classes')

        first = {}
        for i, name in enumerate(names):
            if name in first:
                raise ValueError(
                    f'TieredImageNet: {labels_path}: label_specific_str entry '
                    f'{i} ({name!r}) repeats entry {first[name]}; a class may '
                    'appear once')
            first[name] = i
        self._classes.extend(names)
        data_list = []
        for i, (raw, label, category) in enumerate(
                zip(images, specific, general)):
            try:
                raw = _as_bytes(raw)
            except TypeError as err:
                raise ValueError(
                    f'TieredImageNet: {images_path} entry {i}: {err}') \
                    from None
            data_list.append(
                dict(
                    img_bytes=raw,
                    gt_label=int(label),
                    general_label=int(category)))
        return data_list
