"""A few-shot classifier for a user's own classes: adapt a trained model on
a handful of labelled images, predict new images, save and reload the
adapted task with weights-only loading.

Works for every classifier through the meta-test protocol
(``model.adapt(support, labels, num_ways) -> dict of tensors``,
``model.predict_query(state, query) -> scores``); user images are prepared
as the config's test images are (the dataset's own decoding, or the loading
transform of the test pipeline, then the rest of that pipeline).
"""
import inspect
import io
import json
import os
import os.path as osp
import unicodedata
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose
from PIL import Image
from torch import Tensor

from mmmtl.models.adapters.legacy import migrate_model_cfg
from mmmtl.registry import DATASETS, MODELS, TRANSFORMS
from mmmtl.utils import atomic_write, register_all_modules
from mmmtl.utils.checkpoint import load_checkpoint_file, load_weights

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]
FILE_FORMAT = 'mmmtl-adapted-task-v1'
_LOADERS = ('LoadImage', 'LoadImageFromFile')
#: support images adapted on at most (the model sees the support set as one
#: batch: its memory grows with it; ~4 GB for 1,000 84x84 RGB images)
MAX_SUPPORT_IMAGES = 500
#: query images prepared and scored per batch (a meta-test episode's 75
#: or 300 queries fit in one)
QUERY_BATCH = 320
#: the largest image side a saved task's dataset config may ask for
MAX_IMAGE_SIDE = 2048


def read_support_folder(root: str) -> List[Tuple[str, str]]:
    """``(image path, class name)`` pairs of ``<root>/<class name>/<image>``
    (.jpg / .jpeg / .png), classes and images sorted by name.

    Raises a ValueError naming the folder when ``root`` holds no class
    folders or a class folder holds no images, and a FileNotFoundError
    naming a broken symbolic link (class folder or image).
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'support folder {root} does not exist')
    entries = sorted(e for e in os.listdir(root) if not e.startswith('.'))
    _refuse_broken_links(root, entries)
    folders = [e for e in entries if osp.isdir(osp.join(root, e))]
    layout = (f'expected one folder per class, {root}/<class name>/<image>'
              f'{"|".join(IMAGE_EXTENSIONS)}')
    if not folders:
        found = (f' (it holds {len(entries)} files: put them into one '
                 'folder per class)' if entries else ' (it is empty)')
        raise ValueError(
            f'support folder {root} holds no class folders{found}; {layout}')
    pairs = []
    for name in folders:
        class_dir = osp.join(root, name)
        names = sorted(f for f in os.listdir(class_dir)
                       if not f.startswith('.'))
        _refuse_broken_links(class_dir, names)
        files = [f for f in names if osp.isfile(osp.join(class_dir, f))]
        images = [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
        if not images:
            other = f' (only {files[:5]})' if files else ''
            raise ValueError(
                f'class folder {class_dir} (class {name!r}) holds no images'
                f'{other}; every class needs at least one '
                f'{"/".join(IMAGE_EXTENSIONS)} file')
        pairs.extend((osp.join(class_dir, f), name) for f in images)
    return pairs


def _refuse_broken_links(folder: str, names: Sequence[str]) -> None:
    """A support image or class folder that is a link to nothing would be
    left out silently; name it instead."""
    for name in names:
        path = osp.join(folder, name)
        if osp.islink(path) and not osp.exists(path):
            raise FileNotFoundError(
                f'{path} is a broken symbolic link (to '
                f'{os.readlink(path)}); fix or remove it')


def class_name(label) -> str:
    """A support label as a class name: ``str(label)`` in Unicode NFC (so
    that ``café`` typed either way is one class). Names with a line break,
    another control character or ``|`` (the printed table's separator) are
    refused with the name shown."""
    name = unicodedata.normalize('NFC', str(label))
    bad = [c for c in name
           if c == '|' or unicodedata.category(c).startswith('C')]
    if not name.strip() or bad:
        raise ValueError(
            f'class name {name!r}: class names must be non-empty and hold '
            'no line break, control character or "|" (found '
            f'{"".join(sorted(set(bad)))!r}); rename the class')
    return name


def encode_image(image: ImageLike, where: str) -> bytes:
    """Encoded bytes of an image: a file's own bytes (decoded later exactly
    as the dataset decodes its files), PIL images and uint8 (or bool) arrays
    (H x W, H x W x 1 / 3 / 4, RGB order) as PNG."""
    if isinstance(image, (str, os.PathLike)):
        try:
            with open(image, 'rb') as f:
                return f.read()
        except OSError as err:
            raise ValueError(f'cannot read image {where}: {err}') from err
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        if image.dtype not in (np.uint8, np.bool_) or not (
                image.ndim == 2 or
            (image.ndim == 3 and image.shape[2] in (3, 4))):
            raise ValueError(
                f'image {where}: arrays must be uint8 (or bool) H x W or '
                f'H x W x 1/3/4 (RGB order), got {image.dtype} {image.shape}')
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise TypeError(f'image {where}: expected a path, a PIL image or a '
                        f'numpy array, got {type(image).__name__}')
    if image.mode not in ('1', 'L', 'LA', 'P', 'RGB', 'RGBA', 'I', 'I;16'):
        image = image.convert('RGB')
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def find_test_dataset_cfg(cfg: Config) -> dict:
    """The image dataset of ``cfg.test_dataloader``, wrappers such as
    :class:`EpisodicDataset` unwrapped."""
    dataset = cfg.to_dict()['test_dataloader']['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


class ImagePreparer:
    """Turns a user's image into the model input ``[C, H, W]`` that the
    config's test data gives, so that it matches the training images.

    Datasets that decode their files themselves (Omniglot: grey, resized,
    inverted) expose ``decode_image(raw, where, **options)``; its options
    are taken from the dataset config by name and the whole test pipeline
    follows. Otherwise the test pipeline must start with a loading
    transform (``LoadImage`` / mmcv's ``LoadImageFromFile``), which is
    applied to the image bytes with the same decoding options.

    Args:
        dataset_cfg: the test dataset config (``type``, ``pipeline`` and
            the dataset's arguments).
    """

    def __init__(self, dataset_cfg: dict) -> None:
        dataset_type = dataset_cfg['type']
        dataset_cls = (
            DATASETS.get(dataset_type)
            if isinstance(dataset_type, str) else dataset_type)
        if dataset_cls is None:
            raise KeyError(f'dataset type {dataset_type!r} is not registered')
        pipeline = list(dataset_cfg.get('pipeline', []))
        decode = getattr(dataset_cls, 'decode_image', None)
        first = pipeline[0].get('type', '') if pipeline else ''
        if decode is not None:
            names = list(inspect.signature(decode).parameters)[2:]
            options = {k: dataset_cfg[k] for k in names if k in dataset_cfg}
            self._load: Callable[[bytes, str], dict] = (
                lambda raw, where: dict(img=decode(raw, where, **options)))
        elif first.split('.')[-1] in _LOADERS:
            self._loader = TRANSFORMS.build(self._bytes_loader_cfg(
                pipeline.pop(0)))
            self._load = self._load_with_transform
        else:
            raise ValueError(
                f'cannot tell how to decode images for {dataset_cls.__name__}'
                ': the dataset class has no decode_image() and its test '
                f'pipeline does not start with one of {_LOADERS}')
        self.pipeline = Compose(pipeline)

    @staticmethod
    def _bytes_loader_cfg(loader: dict) -> dict:
        """``LoadImage`` decoding bytes as ``loader`` decodes files."""
        if loader['type'].split('.')[-1] == 'LoadImage':
            return dict(loader)
        return dict(
            type='LoadImage',
            color_type=loader.get('color_type', 'color'),
            backend=loader.get('imdecode_backend', 'cv2'),
            to_float32=loader.get('to_float32', False))

    def _load_with_transform(self, raw: bytes, where: str) -> dict:
        try:
            return self._loader(dict(img_bytes=raw))
        except ValueError as err:
            raise ValueError(f'cannot decode image {where}: {err}') from err

    def __call__(self, image: ImageLike, where: str) -> Tensor:
        item = self._load(encode_image(image, where), where)
        item['gt_label'] = -1  # pipelines may collect it; unused here
        return self.pipeline(item)['img']


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu') -> Tuple[torch.nn.Module, Config]:
    """Build ``config``'s model through the registries, load ``checkpoint``
    (an mmengine checkpoint you trained, or a state_dict file) weights-only
    and strictly (errors name the checkpoint and the config) and put it in
    eval mode on ``device``."""
    register_all_modules()
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_weights(
            model,
            load_checkpoint_file(checkpoint, map_location='cpu'),
            checkpoint,
            strict=True,
            config=cfg.filename or '<Config object>')
    return model.to(device).eval(), cfg


def _as_list(images: Union[ImageLike, Sequence[ImageLike]]) -> list:
    if isinstance(images, (str, os.PathLike, Image.Image, np.ndarray)):
        return [images]
    return list(images)


def _describe(image: ImageLike, index: int) -> str:
    """How errors and predictions name an image: its path, else its
    position."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    return f'<image {index}>'


class CustomTask:
    """A trained few-shot classifier adapted to the user's own classes.

    Build it with :meth:`from_config` (config + checkpoint), call
    :meth:`adapt` on labelled images, then :meth:`predict`; :meth:`save`
    writes the model, the task state and the class names as tensors and
    strings, which :meth:`load` reads back with weights-only loading.

    Args:
        model: a classifier following the meta-test protocol, in eval mode.
        model_cfg: its config (kept to rebuild it from a saved task).
        adapter_cfg: the adapter the model was given in place of its own
            (``model.set_adapter``), or None (kept likewise).
        dataset_cfg: the test dataset config (how images are prepared).

    Example:
        >>> import numpy as np, torch
        >>> from mmmtl.models import ProtoNet
        >>> from mmmtl.utils import atomic_write, register_all_modules
        >>> register_all_modules()
        >>> model = ProtoNet(backbone=torch.nn.Flatten()).eval()  # pixels
        >>> task = CustomTask(model, model_cfg={}, dataset_cfg=dict(
        ...     type='Omniglot', image_size=2, invert=False,
        ...     pipeline=[dict(type='ImageToTensor', keys=['img'])]))
        >>> dark = np.zeros((2, 2), np.uint8)
        >>> bright = np.full((2, 2), 200, np.uint8)
        >>> task.adapt([(dark, 'night'), (bright, 'day')]).classes
        ['night', 'day']
        >>> task.predict(np.full((2, 2), 150, np.uint8))
        [{'image': '<image 0>', 'classes': ['day'], 'probs': [1.0]}]
    """

    def __init__(self,
                 model: torch.nn.Module,
                 model_cfg: dict,
                 dataset_cfg: dict,
                 adapter_cfg: Optional[dict] = None) -> None:
        self.model = model
        self.model_cfg = model_cfg
        self.adapter_cfg = adapter_cfg
        self.dataset_cfg = dataset_cfg
        self.prepare = ImagePreparer(dataset_cfg)
        self.classes: List[str] = []
        self.task_state: Optional[Dict[str, Tensor]] = None

    @classmethod
    def from_config(cls,
                    config: Union[str, Config],
                    checkpoint: str,
                    device: str = 'cpu',
                    adapter: Optional[dict] = None) -> 'CustomTask':
        """A task (not yet adapted) on the model of ``config`` with the
        weights of ``checkpoint``, learning with ``adapter`` (a config,
        e.g. ``dict(type='LinearProbe')``; default: the model's own)."""
        model, cfg = init_model(config, checkpoint, device)
        if adapter is not None:
            model.set_adapter(adapter)
        return cls(model, cfg.to_dict()['model'], find_test_dataset_cfg(cfg),
                   adapter)

    def _inputs(self, images: Sequence[ImageLike]) -> Tensor:
        """Prepared, stacked and normalised images [B, C, H, W]."""
        batch = torch.stack([
            self.prepare(image, _describe(image, i))
            for i, image in enumerate(images)
        ])
        return self.model.data_preprocessor(dict(img=batch),
                                            False)['inputs']

    def adapt(self,
              support: Union[str, Sequence[Tuple[ImageLike, object]]],
              max_images: int = MAX_SUPPORT_IMAGES) -> 'CustomTask':
        """Learn the classes of ``support``: a folder
        ``<root>/<class name>/<image>`` or ``(image, label)`` pairs (class
        order: first appearance), at most ``max_images`` images in all (the
        model adapts on the whole set as one batch). Class names are
        :func:`class_name`-s of the labels.

        Returns self, so that ``task.adapt(folder).predict(images)`` reads.
        """
        pairs = (
            read_support_folder(support) if isinstance(
                support, (str, os.PathLike)) else list(support))
        if not pairs:
            raise ValueError('adapt: the support set is empty')
        classes: List[str] = []
        labels = []
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError('adapt: support items must be (image, '
                                 f'label) pairs, got {pair!r}')
            name = class_name(pair[1])
            if name not in classes:
                classes.append(name)
            labels.append(classes.index(name))
        if len(classes) < 2:
            raise ValueError(
                f'adapt: a classifier needs at least 2 classes, got '
                f'{classes}')
        if len(pairs) > max_images:
            counts = {c: labels.count(i) for i, c in enumerate(classes)}
            largest = max(counts, key=counts.get)
            where = f' in {support}' if isinstance(
                support, (str, os.PathLike)) else ''
            raise ValueError(
                f'adapt: {len(pairs)} support images{where} (class '
                f'{largest!r} has {counts[largest]}), over max_images='
                f'{max_images}: the model adapts on the whole support set '
                'at once, so its memory grows with it; a few-shot task '
                'needs a few images per class')
        inputs = self._inputs([image for image, _ in pairs])
        labels = torch.tensor(labels, device=inputs.device)
        state = self.model.adapt(inputs, labels, len(classes))
        if not isinstance(state, dict) or not all(
                isinstance(v, Tensor) for v in state.values()):
            raise TypeError(
                f'{type(self.model).__name__}.adapt must return the task '
                'state as a flat dict of tensors (the meta-test protocol), '
                f'got {type(state).__name__}')
        self.classes = classes
        self.task_state = state
        return self

    def probabilities(
            self, images: Union[ImageLike, Sequence[ImageLike]]) -> Tensor:
        """Class probabilities [Q, N] (softmax of the classifier's scores;
        columns in the order of :attr:`classes`). Images are prepared and
        scored :data:`QUERY_BATCH` at a time, so memory stays bounded; a
        model that normalises with the batch's statistics (MAML's
        transductive batch norm) sees each such batch together."""
        if self.task_state is None:
            raise RuntimeError('CustomTask: call adapt() (or load an '
                               'adapted task) before predicting')
        images = _as_list(images)
        if not images:
            raise ValueError('predict: no images given')
        probs = []
        for start in range(0, len(images), QUERY_BATCH):
            batch = images[start:start + QUERY_BATCH]
            with torch.no_grad():
                scores = self.model.predict_query(self.task_state,
                                                  self._inputs(batch))
            bad = (~torch.isfinite(scores).all(dim=-1)).nonzero().flatten()
            if len(bad):
                names = [_describe(batch[i], start + i) for i in bad.tolist()]
                raise FloatingPointError(
                    f'{type(self.model).__name__}: non-finite class scores '
                    f'for {len(names)} query images ({", ".join(names[:3])}'
                    f'{" ..." if len(names) > 3 else ""}): the model weights '
                    'or the adapted task state hold NaN or inf; no '
                    'prediction was made')
            probs.append(F.softmax(scores.float(), dim=-1).cpu())
        return torch.cat(probs)

    def predict(self,
                images: Union[ImageLike, Sequence[ImageLike]],
                topk: int = 1) -> List[dict]:
        """Top-k classes of each image: ``dict(image=path or '<image i>',
        classes=[names], probs=[floats])``, most likely first."""
        images = _as_list(images)
        probs = self.probabilities(images)
        values, indices = probs.topk(min(topk, len(self.classes)), dim=-1)
        return [
            dict(
                image=_describe(image, i),
                classes=[self.classes[c] for c in idx.tolist()],
                probs=val.tolist())
            for i, (image, val, idx) in enumerate(zip(images, values,
                                                      indices))
        ]

    def save(self, path: str) -> None:
        """Write the adapted task as tensors, strings and lists only, for
        weights-only loading: model weights, task state, class names and
        the model / test dataset configs (JSON). The file is written
        atomically (:func:`mmmtl.utils.atomic_write`): a failed write
        leaves nothing under ``path`` and its error names ``path``."""
        if self.task_state is None:
            raise RuntimeError('CustomTask: nothing to save before adapt()')
        folder = osp.dirname(osp.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise OSError(err.errno, f'cannot write {path}: cannot create '
                          f'{folder}: {err.strerror}') from err
        saved = dict(
            format=FILE_FORMAT,
            classes=list(self.classes),
            model_cfg=json.dumps(self.model_cfg),
            adapter_cfg=json.dumps(self.adapter_cfg),
            dataset_cfg=json.dumps(self.dataset_cfg),
            model_state={
                k: v.cpu()
                for k, v in self.model.state_dict().items()
            },
            task_state={k: v.cpu()
                        for k, v in self.task_state.items()})
        atomic_write(path, lambda f: torch.save(saved, f))

    @classmethod
    def load(cls, path: str, device: str = 'cpu') -> 'CustomTask':
        """Rebuild a task saved by :meth:`save` (weights-only loading); it
        predicts exactly as the saved one did.

        The file is data from elsewhere: before anything is allocated for
        it, its fields are type-checked, the image sizes of its dataset
        config bounded (:data:`MAX_IMAGE_SIDE`) and its model config built
        on the meta device (no memory) and compared with its weights, so a
        crafted file cannot make the rebuild allocate more than the weights
        it holds."""
        saved = load_checkpoint_file(path, map_location='cpu')
        if not isinstance(saved, dict) or saved.get('format') != FILE_FORMAT:
            raise ValueError(f'{path} is not an adapted task saved by '
                             f'CustomTask.save (format {FILE_FORMAT})')
        register_all_modules()
        model_cfg, dataset_cfg, adapter_cfg = _checked_fields(saved, path)
        # a task saved before adapters: its model keys, as adapter settings
        model_cfg = migrate_model_cfg(model_cfg)

        def build() -> torch.nn.Module:
            model = MODELS.build(model_cfg)
            if adapter_cfg is not None:
                model.set_adapter(adapter_cfg)
            return model

        with torch.device('meta'):
            probe = build()
        load_weights(probe, saved['model_state'], path, strict=True)
        model = build()
        load_weights(model, saved['model_state'], path, strict=True)
        task = cls(model.to(device).eval(), model_cfg, dataset_cfg,
                   adapter_cfg)
        task.classes = list(saved['classes'])
        task.task_state = {
            k: v.to(device)
            for k, v in saved['task_state'].items()
        }
        if model_cfg.get('type') == 'TransferClassifier' and not any(
                k.startswith('head.') for k in task.task_state):
            # before adapters, a transfer task state was its head alone
            task.task_state = {
                f'head.{k}': v
                for k, v in task.task_state.items()
            }
        return task


def _checked_fields(saved: dict,
                    path: str) -> Tuple[dict, dict, Optional[dict]]:
    """The model, dataset and adapter configs of a saved task, after
    checking the types of its fields and the image sizes its dataset config
    asks for; errors name ``path`` and the field."""

    def tensors(key):
        value = saved.get(key)
        if not isinstance(value, dict) or not all(
                isinstance(v, Tensor) for v in value.values()):
            raise ValueError(f'{path}: {key} must be a dict of tensors')

    tensors('model_state')
    tensors('task_state')
    classes = saved.get('classes')
    try:
        valid = isinstance(classes, list) and len(classes) >= 2 and all(
            isinstance(c, str) and class_name(c) == c for c in classes)
    except ValueError:  # a name class_name() refuses
        valid = False
    if not valid:
        raise ValueError(f'{path}: classes must be a list of at least 2 '
                         'class names (NFC, no line break, control '
                         'character or "|")')
    configs = []
    for key in ('model_cfg', 'dataset_cfg'):
        try:
            value = json.loads(saved.get(key))
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f'{path}: {key} is not a JSON config ({err})') \
                from None
        if not isinstance(value, dict) or 'type' not in value:
            raise ValueError(f'{path}: {key} must be a config dict with a '
                             'type')
        configs.append(value)
    # (a task saved before adapters could be given another has none)
    try:
        adapter = json.loads(saved.get('adapter_cfg') or 'null')
    except (TypeError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: adapter_cfg is not JSON ({err})') \
            from None
    if adapter is not None and (not isinstance(adapter, dict)
                                or 'type' not in adapter):
        raise ValueError(f'{path}: adapter_cfg must be null or a config '
                         'dict with a type')
    for key, side in _image_sides(configs[1], 'dataset_cfg'):
        if side > MAX_IMAGE_SIDE:
            raise ValueError(
                f'{path}: {key} = {side} is over the largest image side '
                f'mmmtl prepares, {MAX_IMAGE_SIDE}; the file was not written '
                'by CustomTask.save from a mmmtl config, or was changed')
    return configs[0], configs[1], adapter


def _image_sides(value, where: str):
    """``(key path, number)`` of every size-like entry (a key holding
    ``size``, ``scale``, ``short`` or ``long``) of a config."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f'{where}.{key}'
            if any(w in str(key) for w in ('size', 'scale', 'short', 'long')):
                numbers = item if isinstance(item, list) else [item]
                yield from ((here, n) for n in numbers
                            if isinstance(n, (int, float))
                            and not isinstance(n, bool))
            yield from _image_sides(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _image_sides(item, f'{where}[{i}]')
