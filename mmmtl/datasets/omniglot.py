"""Omniglot (Lake et al., Science 2015) with the Vinyals et al. or Lake split."""
import io
import os
import os.path as osp
import re
import tarfile
import zipfile
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from mmmtl.registry import DATASETS
from .base import FewShotDataset

_BACKGROUND = 'images_background'
_EVALUATION = 'images_evaluation'
_PNG = re.compile(r'(?:^|/)(images_background|images_evaluation)/([^/]+)/'
                  r'(character\d+)/([^/]+\.png)$')
_LAYOUT_HELP = (
    'Expected one of: a directory holding images_background/ and '
    'images_evaluation/ (<Alphabet>/characterNN/*.png), a directory holding '
    'images_background.zip and images_evaluation.zip, or a .tar.gz holding '
    'those two folders. See docs/datasets.md or run '
    'tools/data/prepare_omniglot.py.')


def _iter_pngs(root: str):
    """Yield (folder, alphabet, character, file name, read()) for every PNG
    of the release found under ``root`` in any supported form."""
    def from_names(names, read, where):
        for name in names:
            m = _PNG.search(name)
            if m:
                yield (*m.groups(), lambda n=name: read(n), f'{where}:{name}')

    if osp.isfile(root) and tarfile.is_tarfile(root):
        with tarfile.open(root, 'r:*') as tar:
            for member in tar:
                m = _PNG.search(member.name) if member.isfile() else None
                if m:
                    data = tar.extractfile(member).read()
                    yield (*m.groups(), lambda d=data: d,
                           f'{root}:{member.name}')
        return
    folders = [f for f in (_BACKGROUND, _EVALUATION)
               if osp.isdir(osp.join(root, f))]
    zips = [f for f in (_BACKGROUND, _EVALUATION)
            if osp.isfile(osp.join(root, f + '.zip'))]
    tars = sorted(f for f in os.listdir(root) if f.endswith(('.tar.gz',
                                                              '.tgz')))
    if folders:
        for folder in folders:
            base = osp.join(root, folder)
            for dirpath, _, files in os.walk(base):
                rel = osp.relpath(dirpath, root).replace(os.sep, '/')
                for f in sorted(files):
                    path = osp.join(dirpath, f)
                    m = _PNG.search(f'{rel}/{f}')
                    if m:
                        yield (*m.groups(),
                               lambda p=path: open(p, 'rb').read(), path)
    elif zips:
        for name in zips:
            path = osp.join(root, name + '.zip')
            with zipfile.ZipFile(path) as zf:
                yield from from_names(zf.namelist(), zf.read, path)
    elif tars:
        yield from _iter_pngs(osp.join(root, tars[0]))


def _read_split_file(path: str) -> List[Tuple[Tuple[str, str, int], int]]:
    """``((alphabet, character, rotation), line number)`` of every line of
    a Vinyals split file (UTF-8, a byte-order mark allowed), checked for
    the ``<Alphabet>/characterNN/rotDDD`` format and repeats."""
    rows = []
    first_line: Dict[Tuple[str, str, int], int] = {}
    with open(path, encoding='utf-8-sig') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split('/')
            if len(parts) != 3 or not re.fullmatch(r'rot\d{3}', parts[2]):
                raise ValueError(
                    f'Omniglot: {path} line {lineno}: {line!r} is not '
                    '<Alphabet>/characterNN/rotDDD')
            rotation = int(parts[2][3:])
            if rotation % 90:
                raise ValueError(f'Omniglot: {path} line {lineno}: '
                                 f'rotation {rotation} is not a multiple of '
                                 '90')
            key = (parts[0], parts[1], rotation)
            if key in first_line:
                raise ValueError(
                    f'Omniglot: {path} line {lineno}: {line!r} repeats '
                    f'line {first_line[key]}; a class may appear once')
            first_line[key] = lineno
            rows.append((key, lineno))
    return rows


@DATASETS.register_module()
class Omniglot(FewShotDataset):
    """Omniglot character classes, decoded and resized once, kept in memory.

    Args:
        data_root: a folder or archive in the official release layout.
        split: ``train``, ``val``, ``test`` or ``trainval`` (Vinyals) or
            ``train`` (images_background) / ``test`` (images_evaluation)
            (Lake).
        split_type: ``vinyals`` (class = character + rotation, split files
            ``{split}.txt`` in ``split_dir``) or ``lake`` (no rotations).
        split_dir: folder of the Vinyals split files; default
            ``{data_root}/splits/vinyals``.
        image_size: side of the square images (28 in the few-shot protocol,
            Lanczos resampling as in MAML).
        invert: make strokes bright on a dark background (MAML protocol).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 split_type: str = 'vinyals',
                 split_dir: Optional[str] = None,
                 image_size: int = 28,
                 invert: bool = True,
                 **kwargs) -> None:
        if split_type not in ('vinyals', 'lake'):
            raise ValueError(f'Omniglot: unknown split_type {split_type!r}; '
                             "use 'vinyals' or 'lake'")
        allowed = (('train', 'val', 'test', 'trainval')
                   if split_type == 'vinyals' else ('train', 'test'))
        if split not in allowed:
            raise ValueError(f'Omniglot: split {split!r} does not exist for '
                             f'the {split_type} split; choose from {allowed}')
        self.split_type = split_type
        self.split_dir = split_dir
        self.image_size = image_size
        self.invert = invert
        super().__init__(data_root=data_root, split=split, **kwargs)

    @staticmethod
    def decode_image(raw: bytes,
                     where: str,
                     image_size: int = 28,
                     invert: bool = True) -> np.ndarray:
        """Turn an encoded image file into the dataset's ``img``: grey,
        ``image_size`` square (Lanczos), inverted if ``invert``.

        Shared by the loader and by :mod:`mmmtl.apis`, so that a user's own
        images are prepared exactly as the training images were. ``where``
        names the image in errors.
        """
        try:
            img = Image.open(io.BytesIO(raw))
            img = img.convert('L').resize((image_size, image_size),
                                          Image.LANCZOS)
        except Exception as err:  # PIL raises many types for broken files
            raise ValueError(
                f'Omniglot: cannot decode image {where}: {err}') from err
        arr = np.asarray(img, dtype=np.uint8)
        return 255 - arr if invert else arr

    def _class_list(self) -> Tuple[List[Tuple[str, str, int]], Optional[str]]:
        """(alphabet, character, rotation) of every class, and the split
        file they came from (None for the Lake split)."""
        if self.split_type == 'lake':
            return [], None
        split_dir = self.split_dir or osp.join(self.data_root, 'splits',
                                               'vinyals')
        path = osp.join(split_dir, f'{self.split}.txt')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'Omniglot: split file {path} not found. Copy the Vinyals '
                'split files (train/val/test/trainval.txt) there or set '
                'split_dir.')
        classes = [key for key, _ in _read_split_file(path)]
        self._check_disjoint(split_dir, path, classes)
        return classes, path

    def _check_disjoint(self, split_dir: str, path: str,
                        classes: List[Tuple[str, str, int]]) -> None:
        """Refuse a character that is also in another split's file of
        ``split_dir`` (train / val / test; trainval is train + val): its
        drawings would be meta-trained on and meta-tested."""
        others = {
            'trainval': ('test', ),
            'train': ('val', 'test'),
            'val': ('train', 'test'),
            'test': ('train', 'val', 'trainval')
        }.get(self.split, ())
        characters = {(a, c) for a, c, _ in classes}
        for other in others:
            other_path = osp.join(split_dir, f'{other}.txt')
            if not osp.isfile(other_path):
                continue
            for (a, c, _), lineno in _read_split_file(other_path):
                if (a, c) in characters:
                    raise ValueError(
                        f'Omniglot: character {a}/{c} of {path} is also in '
                        f'{other_path} (line {lineno}); the {self.split} '
                        f'and {other} splits must not share characters')

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        if not osp.exists(root):
            raise FileNotFoundError(
                f'Omniglot: data_root {root} does not exist. {_LAYOUT_HELP}')
        classes, split_file = self._class_list()
        wanted = {(a, c) for a, c, _ in classes}
        lake_folder = {'train': _BACKGROUND, 'test': _EVALUATION}.get(
            self.split)
        drawings: Dict[Tuple[str, str], List[Tuple[str, np.ndarray]]] = {}
        seen_folders = set()
        for folder, alphabet, char, fname, read, where in _iter_pngs(root):
            seen_folders.add(folder)
            key = (alphabet, char)
            if split_file is not None and key not in wanted:
                continue
            if split_file is None and folder != lake_folder:
                continue
            img = self.decode_image(read(), where, self.image_size,
                                    self.invert)
            drawings.setdefault(key, []).append((fname, img))
        if not seen_folders:
            raise FileNotFoundError(
                f'Omniglot: no images found under {root}. {_LAYOUT_HELP}')
        if split_file is None:
            classes = [(a, c, 0) for a, c in sorted(drawings)]
        missing = sorted({(a, c) for a, c, _ in classes} - set(drawings))
        if missing:
            a, c = missing[0]
            raise ValueError(
                f'Omniglot: split file {split_file} names {len(missing)} '
                f'characters absent from {root} (found folders '
                f'{sorted(seen_folders)}), e.g. {a}/{c}')

        data_list = []
        for label, (alphabet, char, rotation) in enumerate(classes):
            for _, img in sorted(drawings[(alphabet, char)],
                                 key=lambda d: d[0]):
                data_list.append(
                    dict(
                        img=np.ascontiguousarray(
                            np.rot90(img, k=rotation // 90)),
                        gt_label=label))
            self._classes.append(
                f'{alphabet}/{char}' +
                (f'/rot{rotation:03d}' if split_file else ''))
        return data_list
