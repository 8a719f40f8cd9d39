"""miniImageNet (Vinyals et al. 2016) with the Ravi & Larochelle split,
from ImageNet class folders (MMFewShot's layout) or pre-cut 84x84 images."""
import csv
import os
import os.path as osp
import re
from typing import Dict, List, Tuple

from mmmtl.registry import DATASETS
from .base import FewShotDataset

_CSV_NAME = re.compile(r'(n\d{8})(\d+)\.jpg')
_LAYOUTS = ('auto', 'imagenet', 'precut')
_LAYOUT_HELP = (
    'Expected data_root to hold train.csv, val.csv and test.csv (Ravi & '
    'Larochelle, header "filename,label") and images/ in one of two layouts: '
    '(a) ImageNet class folders images/<wnid>/<wnid>_<num>.JPEG (the CSV '
    'name n0153282900000005.jpg is the 5th image of images/n01532829 '
    'sorted by <num>), or (b) pre-cut images named as in the CSVs, '
    'images/n0153282900000005.jpg. See docs/datasets.md or run '
    'tools/data/prepare_mini_imagenet.py.')


def read_split_csv(path: str) -> List[Tuple[str, str, int, int]]:
    """Rows ``(file name, wnid, image number k, line number)`` of a Ravi &
    Larochelle split file, checked for the ``filename,label`` format."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MiniImageNet: split file {path} not found. {_LAYOUT_HELP}')
    rows = []
    first_line = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != [
                'filename', 'label'
        ]:
            raise ValueError(f'MiniImageNet: {path} must start with the '
                             f'header "filename,label", got {header}')
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) != 2:
                raise ValueError(f'MiniImageNet: {path} line {lineno}: '
                                 f'expected "filename,label", got {row}')
            filename, wnid = row[0].strip(), row[1].strip()
            m = _CSV_NAME.fullmatch(filename)
            if m is None:
                raise ValueError(
                    f'MiniImageNet: {path} line {lineno}: file name '
                    f'{filename!r} is not <wnid><number>.jpg (e.g. '
                    'n0153282900000005.jpg)')
            if m.group(1) != wnid:
                raise ValueError(
                    f'MiniImageNet: {path} line {lineno}: file {filename} '
                    f'does not belong to its label {wnid!r}')
            if filename in first_line:
                raise ValueError(
                    f'MiniImageNet: {path} line {lineno}: {filename} repeats '
                    f'line {first_line[filename]}; an image may appear once '
                    '(a repeated image can be support and query of one '
                    'episode)')
            first_line[filename] = lineno
            rows.append((filename, wnid, int(m.group(2)), lineno))
    if not rows:
        raise ValueError(f'MiniImageNet: {path} lists no images')
    return rows


def numbered_class_images(folder: str, wnid: str) -> List[str]:
    """The ``<wnid>_<num>.JPEG`` files of an ImageNet class folder, sorted
    by ``<num>`` (the order the CSV image numbers count in)."""
    pattern = re.compile(re.escape(wnid) + r'_(\d+)\.jpe?g', re.IGNORECASE)
    numbered = []
    for name in os.listdir(folder):
        m = pattern.fullmatch(name)
        if m:
            numbered.append((int(m.group(1)), name))
    return [name for _, name in sorted(numbered)]


def resolve_imagenet_rows(images_dir: str,
                          rows: List[Tuple[str, str, int, int]],
                          csv_path: str) -> List[str]:
    """Path of the ImageNet file each CSV row names: image k of the row's
    class folder, counting from 1 in ``<num>`` order."""
    listings: Dict[str, List[str]] = {}
    paths = []
    for filename, wnid, k, lineno in rows:
        if wnid not in listings:
            folder = osp.join(images_dir, wnid)
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'MiniImageNet: class folder {folder} (class {wnid} of '
                    f'{csv_path}) not found. {_LAYOUT_HELP}')
            listings[wnid] = numbered_class_images(folder, wnid)
        files = listings[wnid]
        if not 1 <= k <= len(files):
            raise FileNotFoundError(
                f'MiniImageNet: {csv_path} line {lineno} names {filename} '
                f'(image {k} of class {wnid}), but '
                f'{osp.join(images_dir, wnid)} holds only {len(files)} '
                f'{wnid}_<num>.JPEG images')
        paths.append(osp.join(images_dir, wnid, files[k - 1]))
    return paths


# The split files each split reads. 'val+test' is the 36 classes unseen in
# training (16 val + 20 test) on which Eshratifar et al. evaluated their
# Table 1; the standard evaluation split is 'test'.
_SPLIT_FILES = {
    'train': ('train', ),
    'val': ('val', ),
    'test': ('test', ),
    'val+test': ('val', 'test'),
}


@DATASETS.register_module()
class MiniImageNet(FewShotDataset):
    """miniImageNet: 100 ImageNet classes of 600 images, split 64 / 16 / 20
    (train / val / test) by Ravi & Larochelle's CSV files.

    ``data_list`` holds ``img_path``: decode in the pipeline (``LoadImage``),
    or once for the split with
    ``cache_images=True`` (see :class:`FewShotDataset`). Class names are the
    wnids in the order they first appear in the CSV.

    Args:
        data_root: folder with ``{train,val,test}.csv`` and ``images/``.
        split: ``train``, ``val``, ``test``, or ``val+test``: the 36 classes
            unseen in training (val.csv then test.csv, labels 0-15 the val
            classes, 16-35 the test classes), the evaluation split of
            Eshratifar et al.'s Table 1 (only for that study; ``test`` is
            the standard one).
        layout: ``imagenet`` (full-size class folders
            ``images/<wnid>/<wnid>_<num>.JPEG``; CSV name
            ``<wnid><k>.jpg`` = the k-th image by ``<num>``), ``precut``
            (``images/<CSV name>``) or ``auto`` (whichever is present).
    """

    SPLITS = tuple(_SPLIT_FILES)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: str = 'auto',
                 **kwargs) -> None:
        if layout not in _LAYOUTS:
            raise ValueError(f'MiniImageNet: unknown layout {layout!r}; '
                             f'choose from {_LAYOUTS}')
        self.layout = layout
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _detect_layout(self, images_dir: str, entries: set,
                       rows: List[Tuple[str, str, int, int]],
                       csv_path: str) -> str:
        if any(filename in entries for filename, _, _, _ in rows):
            return 'precut'
        if any(wnid in entries and osp.isdir(osp.join(images_dir, wnid))
               for _, wnid, _, _ in rows):
            return 'imagenet'
        filename, wnid, _, _ = rows[0]
        raise FileNotFoundError(
            f'MiniImageNet: {images_dir} holds neither the images of '
            f'{csv_path} (e.g. {filename}, pre-cut layout) nor their class '
            f'folders (e.g. {wnid}/, ImageNet layout). {_LAYOUT_HELP}')

    def _resolve_paths(self, images_dir: str, entries: set,
                       rows: List[Tuple[str, str, int, int]],
                       csv_path: str) -> Tuple[str, List[str]]:
        """(layout, image path of each row) for the rows of one CSV."""
        layout = self.layout
        if layout == 'auto':
            layout = self._detect_layout(images_dir, entries, rows, csv_path)
        if layout == 'imagenet':
            return layout, resolve_imagenet_rows(images_dir, rows, csv_path)
        paths = []
        for filename, wnid, _, lineno in rows:
            if filename not in entries:
                raise FileNotFoundError(
                    f'MiniImageNet: image {osp.join(images_dir, filename)}'
                    f' (class {wnid}, {csv_path} line {lineno}) not '
                    f'found. {_LAYOUT_HELP}')
            paths.append(osp.join(images_dir, filename))
        return layout, paths

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'MiniImageNet: data_root {root} does not exist. '
                f'{_LAYOUT_HELP}')
        split_rows = []
        for name in _SPLIT_FILES[self.split]:
            csv_path = osp.join(root, f'{name}.csv')
            split_rows.append((csv_path, read_split_csv(csv_path)))
        images_dir = osp.join(root, 'images')
        if not osp.isdir(images_dir):
            raise FileNotFoundError(
                f'MiniImageNet: image folder {images_dir} not found. '
                f'{_LAYOUT_HELP}')
        entries = set(os.listdir(images_dir))

        label_of: Dict[str, int] = {}
        csv_of: Dict[str, str] = {}
        layouts = []
        data_list = []
        for csv_path, rows in split_rows:
            layout, paths = self._resolve_paths(images_dir, entries, rows,
                                                csv_path)
            layouts.append(layout)
            for (_, wnid, _, lineno), path in zip(rows, paths):
                if wnid not in label_of:
                    label_of[wnid] = len(label_of)
                    csv_of[wnid] = csv_path
                    self._classes.append(wnid)
                elif csv_of[wnid] != csv_path:
                    raise ValueError(
                        f'MiniImageNet: class {wnid} of {csv_path} (line '
                        f'{lineno}) is also a class of {csv_of[wnid]}; the '
                        f'files of split {self.split!r} must not share '
                        'classes')
                data_list.append(dict(img_path=path, gt_label=label_of[wnid]))
        if len(set(layouts)) > 1:
            raise ValueError(
                f'MiniImageNet: {images_dir} holds the images of '
                f'{split_rows[0][0]} in the {layouts[0]} layout but those of '
                f'{split_rows[1][0]} in the {layouts[1]} layout; use one')
        self.resolved_layout = layouts[0]
        self._check_disjoint(root, csv_of)
        return data_list

    def _check_disjoint(self, root: str, csv_of: Dict[str, str]) -> None:
        """Refuse a class of this split that another split file of
        ``root`` also lists: it would be meta-trained on and meta-tested."""
        for name in ('train', 'val', 'test'):
            path = osp.join(root, f'{name}.csv')
            if path in csv_of.values() or not osp.isfile(path):
                continue
            for _, wnid, _, lineno in read_split_csv(path):
                if wnid in csv_of:
                    raise ValueError(
                        f'MiniImageNet: class {wnid} of {csv_of[wnid]} is '
                        f'also in {path} (line {lineno}); the train, val '
                        'and test splits must not share classes')
