"""Caltech-UCSD Birds-200-2011 with the class split of Chen et al., "A Closer
Look at Few-shot Classification" (ICLR 2019)."""
import os
import os.path as osp
import re
from typing import List

from mmmtl.registry import DATASETS
from .base import FewShotDataset

_IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
_CLASS_FOLDER = re.compile(r'(\d{3})\.[^/]+')
_LAYOUT_HELP = (
    'Expected data_root (e.g. data/CUB_200_2011) to hold images/<NNN.Name>/'
    '*.jpg, the images/ folder of the CUB_200_2011.tgz release (200 class '
    'folders 001.Black_footed_Albatross ... 200.Common_Yellowthroat). See '
    'docs/datasets.md or run tools/data/prepare_cub.py.')


def cub_split_of(index: int) -> str:
    """Split of the class at ``index`` of the sorted class folders (class
    ``NNN`` is index NNN - 1): even -> train (100 classes), 1 mod 4 -> val
    (50), 3 mod 4 -> test (50)."""
    if index % 2 == 0:
        return 'train'
    return 'val' if index % 4 == 1 else 'test'


@DATASETS.register_module()
class CUB(FewShotDataset):
    """CUB-200-2011 birds, 200 classes split 100 / 50 / 50.

    Classes are the ``NNN.Name`` folders of ``images/`` sorted by name, and
    class ``NNN`` goes to the split of index NNN - 1 (so a missing folder
    shifts no other class); hidden entries (``.ipynb_checkpoints``,
    ``.DS_Store``, ``._x.jpg``) are ignored, any other folder and a broken
    symbolic link are errors.
    Images of a class are sorted by file name. ``data_list`` holds
    ``img_path``: decode in the pipeline (``LoadImage``).

    Args:
        data_root: folder holding ``images/<NNN.Name>/*.jpg``.
        split: ``train``, ``val`` or ``test``.
    """

    SPLITS = ('train', 'val', 'test')

    def load_data_list(self) -> List[dict]:
        images_dir = osp.join(self.data_root, 'images')
        if not osp.isdir(images_dir):
            raise FileNotFoundError(
                f'CUB: image folder {images_dir} not found. {_LAYOUT_HELP}')
        entries = sorted(
            name for name in os.listdir(images_dir)
            if not name.startswith('.'))
        for name in entries:
            path = osp.join(images_dir, name)
            if osp.islink(path) and not osp.exists(path):
                raise FileNotFoundError(
                    f'CUB: {path} is a broken symbolic link (to '
                    f'{os.readlink(path)}); fix or remove it (its class '
                    'would be missing)')
        folders = [
            name for name in entries if osp.isdir(osp.join(images_dir, name))
        ]
        if not folders:
            raise FileNotFoundError(
                f'CUB: {images_dir} holds no class folders. {_LAYOUT_HELP}')
        numbers = {}
        for folder in folders:
            m = _CLASS_FOLDER.fullmatch(folder)
            if m is None or int(m.group(1)) == 0:
                raise ValueError(
                    f'CUB: {osp.join(images_dir, folder)} is not a class '
                    'folder NNN.Name with NNN from 001 (remove or hide it: '
                    'the split is defined by the class numbers). '
                    f'{_LAYOUT_HELP}')
            number = int(m.group(1))
            if number in numbers:
                raise ValueError(
                    f'CUB: {images_dir} holds two folders of class '
                    f'{number:03d}: {numbers[number]} and {folder}')
            numbers[number] = folder
        data_list = []
        for number, folder in sorted(numbers.items()):
            if cub_split_of(number - 1) != self.split:
                continue
            class_dir = osp.join(images_dir, folder)
            files = sorted(
                name for name in os.listdir(class_dir)
                if not name.startswith('.')
                and name.lower().endswith(_IMAGE_EXTENSIONS))
            if not files:
                raise ValueError(f'CUB: class folder {class_dir} holds no '
                                 f'.jpg images. {_LAYOUT_HELP}')
            label = len(self._classes)
            self._classes.append(folder)
            data_list.extend(
                dict(img_path=osp.join(class_dir, name), gt_label=label)
                for name in files)
        if not data_list:
            raise ValueError(
                f'CUB: {images_dir} has {len(folders)} class folders, none '
                f'of which falls in the {self.split} split. {_LAYOUT_HELP}')
        return data_list
