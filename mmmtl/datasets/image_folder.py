"""Few-shot episodes over any folder of class subfolders (the torchvision
ImageFolder layout ``root/<class>/<image>``): a user's own classes, or a
benchmark stored that way (Oxford Flowers-102, all CUB species)."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.logging import print_log

from mmmtl.registry import DATASETS
from .base import FewShotDataset

# the extensions torchvision's ImageFolder accepts (all decoded by OpenCV)
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')
ALL = 'all'
_LAYOUT_HELP = ('Expected data_root to hold one folder per class with its '
                'images, root/<class>/<image>.jpg (the torchvision '
                'ImageFolder layout). See docs/datasets.md.')

ClassList = Union[str, Sequence[str]]


@DATASETS.register_module()
class FewShotImageFolder(FewShotDataset):
    """The images of a folder per class, split by lists of class names.

    Classes are ``classes`` (a list, or a text file of one class folder
    name a line) or, when it is None, every folder under ``data_root``
    sorted by name. A split is the classes ``splits[split]`` lists (a list
    or a file, as ``classes``), labelled in the listed order; split
    ``'all'`` is every class, whatever ``splits`` holds. Relative list
    files are read from ``data_root`` (as mmengine's ``ann_file``); a
    UTF-8 BOM, blank lines and surrounding spaces in them are ignored.

    The images of a class are the files directly in its folder with an
    image extension (:data:`IMAGE_EXTENSIONS`, any case), sorted by name.
    Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``, ``._x.jpg``),
    other files (``classes.txt``, ``notes.csv``) and subfolders of a class
    folder are ignored, and their number is logged (when not 0).
    ``data_list`` holds ``img_path``: decode in the pipeline
    (``LoadImage``), or once for the split with ``cache_images=True`` (see
    :class:`FewShotDataset`).

    Args:
        data_root: folder of class folders.
        split: ``'all'`` or a key of ``splits``.
        classes: the class folders to use (list, or list file); None: all.
        splits: split name -> its classes (list, or list file). A class
            may belong to one split only.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> from mmmtl.datasets import FewShotImageFolder
        >>> root = tempfile.mkdtemp()
        >>> for name in ('cat', 'dog', 'owl'):
        ...     os.makedirs(f'{root}/{name}')
        ...     Image.new('RGB', (8, 8)).save(f'{root}/{name}/0.jpg')
        >>> FewShotImageFolder(root).classes
        ('cat', 'dog', 'owl')
        >>> FewShotImageFolder(root, split='test', splits=dict(
        ...     train=['cat', 'dog'], test=['owl'])).classes
        ('owl',)
    """

    def __init__(self,
                 data_root: str,
                 split: str = ALL,
                 classes: Optional[ClassList] = None,
                 splits: Optional[Dict[str, ClassList]] = None,
                 **kwargs) -> None:
        splits = dict(splits or {})
        if ALL in splits:
            raise ValueError(
                f'FewShotImageFolder: splits key {ALL!r} is reserved (the '
                'split of every class); name the split differently')
        if split != ALL and split not in splits:
            raise ValueError(
                f'FewShotImageFolder: unknown split {split!r}; choose from '
                f'{(ALL, *splits)} (define splits with splits=dict(name='
                '[classes] or a list file))')
        self.class_list = classes
        self.split_lists = splits
        self.ignored_entries = 0
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _read_list(self, value: ClassList, what: str) -> List[str]:
        """The class names of a list or list file, checked for repeats;
        ``what`` names the argument in errors."""
        if isinstance(value, str):
            path = value if osp.isabs(value) else osp.join(
                self.data_root, value)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'FewShotImageFolder: {what} file {path} not found')
            with open(path, encoding='utf-8-sig') as f:
                lines = [(n, line.strip()) for n, line in enumerate(f, 1)]
            where = [f'{path} line {n}' for n, name in lines if name]
            names = [name for _, name in lines if name]
        else:
            names = [str(name).strip() for name in value]
            where = [f'{what}[{i}]' for i in range(len(names))]
        seen: Dict[str, str] = {}
        for name, at in zip(names, where):
            if name in seen:
                raise ValueError(f'FewShotImageFolder: {at}: class {name!r} '
                                 f'is listed twice (first at {seen[name]})')
            seen[name] = at
        if not names:
            raise ValueError(f'FewShotImageFolder: {what} lists no classes')
        return names

    def _class_folders(self) -> List[str]:
        """Every class folder name under ``data_root``, sorted; other
        entries counted in ``ignored_entries``."""
        folders = []
        for name in sorted(os.listdir(self.data_root)):
            if (not name.startswith('.')
                    and osp.isdir(osp.join(self.data_root, name))):
                folders.append(name)
            else:
                self.ignored_entries += 1
        if not folders:
            raise FileNotFoundError(
                f'FewShotImageFolder: {self.data_root} holds no class '
                f'folders. {_LAYOUT_HELP}')
        return folders

    def _split_classes(self, classes: List[str],
                       where: Dict[str, str]) -> List[str]:
        """The classes of ``self.split``, checked against ``classes`` and
        the other splits."""
        if self.split == ALL:
            return classes
        known = set(classes)
        owner: Dict[str, str] = {}
        chosen = []
        for key, value in self.split_lists.items():
            listed = self._read_list(value, f'splits[{key!r}]')
            for name in listed:
                if name not in known:
                    raise ValueError(
                        f'FewShotImageFolder: splits[{key!r}] lists class '
                        f'{name!r}, which is not {where["classes"]}')
                if name in owner:
                    raise ValueError(
                        f'FewShotImageFolder: class {name!r} is in split '
                        f'{owner[name]!r} and in split {key!r}; a class '
                        'may belong to one split only')
                owner[name] = key
            if key == self.split:
                chosen = listed
        return chosen

    def load_data_list(self) -> List[dict]:
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'FewShotImageFolder: data_root {root} does not exist. '
                f'{_LAYOUT_HELP}')
        if self.class_list is None:
            classes = self._class_folders()
            where = dict(classes=f'a class folder of {root}')
        else:
            classes = self._read_list(self.class_list, 'classes')
            what = (
                self.class_list
                if isinstance(self.class_list, str) else 'classes')
            where = dict(classes=f'in {what}')
            for name in classes:
                if not osp.isdir(osp.join(root, name)):
                    raise ValueError(
                        f'FewShotImageFolder: {what} lists class {name!r}, '
                        f'but {osp.join(root, name)} is not a folder. '
                        f'{_LAYOUT_HELP}')
        data_list = []
        for name in self._split_classes(classes, where):
            class_dir = osp.join(root, name)
            files = []
            for entry in sorted(os.listdir(class_dir)):
                if (not entry.startswith('.')
                        and entry.lower().endswith(IMAGE_EXTENSIONS)
                        and not osp.isdir(osp.join(class_dir, entry))):
                    files.append(entry)
                else:
                    self.ignored_entries += 1
            if not files:
                raise ValueError(
                    f'FewShotImageFolder: class folder {class_dir} holds no '
                    f'images ({", ".join(IMAGE_EXTENSIONS)}). '
                    f'{_LAYOUT_HELP}')
            label = len(self._classes)
            self._classes.append(name)
            data_list.extend(
                dict(img_path=osp.join(class_dir, entry), gt_label=label)
                for entry in files)
        if self.ignored_entries:
            print_log(
                f'FewShotImageFolder (split={self.split!r}, data_root='
                f'{root}): ignored {self.ignored_entries} entries that are '
                'hidden, not images or not class folders; read '
                f'{len(data_list)} images of {len(self._classes)} classes',
                logger='current')
        return data_list
