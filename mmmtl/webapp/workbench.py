"""What the web app does, without the web page: a thin layer over
:class:`mmmtl.apis.CustomTask` that the page's callbacks call (and the unit
tests call directly).

A :class:`Workbench` holds one base model (unadapted) and builds, checks,
previews and applies custom classifiers on it; every error it raises for
the user is a ValueError (or FileNotFoundError) whose message names the
class, file or value at fault.
"""
import csv
import inspect
import io
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from mmmtl.apis import CustomTask, find_test_dataset_cfg
from mmmtl.apis.model_zoo import get_model
from mmmtl.registry import DATASETS

# class name -> [(stored image path, name shown to the user)]
Classes = Dict[str, List[Tuple[str, str]]]
Progress = Callable[[float, str], None]
BATCH = 64  # images prepared and scored at once


def _no_progress(fraction: float, text: str) -> None:
    pass


def check_classes(classes: Classes) -> None:
    """A classifier needs two classes or more, each with an image."""
    empty = [name for name, images in classes.items() if not images]
    if empty:
        raise ValueError(f'class {empty[0]!r} has no images: add images to '
                         'it or remove it')
    if len(classes) < 2:
        have = f' (only {next(iter(classes))!r})' if classes else ''
        raise ValueError('a classifier needs at least two classes'
                         f'{have}: add another class')


class Workbench:
    """Custom classifiers on one base model.

    Args:
        task: an unadapted :class:`CustomTask` (the base model).
        description: how the page names the model.
    """

    def __init__(self, task: CustomTask, description: str) -> None:
        self.base = task
        self.description = description
        dataset = self.base.dataset_cfg
        kind = dataset['type']
        kind = DATASETS.get(kind) if isinstance(kind, str) else kind
        decode = getattr(kind, 'decode_image', None)
        params = inspect.signature(decode).parameters if decode else {}
        self.inverted = bool(
            dataset.get('invert', params['invert'].default)
        ) if 'invert' in params else False
        probe = self.base.prepare(np.zeros((8, 8, 3), np.uint8), 'probe')
        self.channels, self.height, self.width = probe.shape

    @classmethod
    def from_config(cls, config: str, checkpoint: str) -> 'Workbench':
        """The model of ``config`` with the weights of ``checkpoint``."""
        return cls(CustomTask.from_config(config, checkpoint),
                   f'{osp.basename(config)} + {osp.basename(checkpoint)}')

    @classmethod
    def from_model_zoo(cls, name: Optional[str] = None,
                       root: Optional[str] = None) -> 'Workbench':
        """The model ``name`` of the model index (default: the default
        model)."""
        model = get_model(name, root=root)
        cfg: Config = model.cfg
        task = CustomTask(model, cfg.to_dict()['model'],
                          find_test_dataset_cfg(cfg))
        return cls(task, name or 'the default model')

    def input_summary(self) -> str:
        """What the model sees, in words."""
        colour = 'grey' if self.channels == 1 else 'RGB'
        invert = ', inverted (dark strokes become bright)' if (
            self.inverted) else ''
        return f'{self.width}x{self.height} {colour}{invert}'

    def new_task(self) -> CustomTask:
        """An unadapted task sharing the base model."""
        return CustomTask(self.base.model, self.base.model_cfg,
                          self.base.dataset_cfg)

    def build(self,
              classes: Classes,
              progress: Progress = _no_progress) -> CustomTask:
        """Adapt a new task to ``classes``."""
        check_classes(classes)
        progress(0.1, 'preparing the images')
        pairs = [(path, name) for name, images in classes.items()
                 for path, _ in images]
        task = self.new_task().adapt(pairs)
        progress(1.0, 'built')
        return task

    def estimate(
        self,
        classes: Classes,
        folds: int = 5,
        progress: Progress = _no_progress
    ) -> Tuple[float, np.ndarray, int]:
        """Cross-validated accuracy on the user's own images: each class's
        images are dealt to ``min(folds, largest class)`` folds in turn
        (leave-one-out for classes of up to ``folds`` images); each fold is
        predicted by a task adapted to the other images. A class with a
        single image is never held out (it would vanish from the task).

        Returns (accuracy, confusion matrix [true, predicted] of counts,
        number of images held out).
        """
        check_classes(classes)
        names = list(classes)
        k = min(folds, max(len(images) for images in classes.values()))
        if k < 2:
            raise ValueError('the quality estimate needs a class with at '
                             'least two images (one to hold out)')
        fold_of = {(name, i): i % k for name, images in classes.items()
                   for i in range(len(images)) if len(images) > 1}
        confusion = np.zeros((len(names), len(names)), dtype=np.int64)
        for fold in range(k):
            progress(fold / k, f'fold {fold + 1} of {k}')
            held = [(name, path) for name, images in classes.items()
                    for i, (path, _) in enumerate(images)
                    if fold_of.get((name, i)) == fold]
            if not held:
                continue
            # dict order keeps the class order of the full task
            train = {
                name: [
                    image for i, image in enumerate(images)
                    if fold_of.get((name, i)) != fold
                ]
                for name, images in classes.items()
            }
            task = self.new_task().adapt([(path, name)
                                          for name, images in train.items()
                                          for path, _ in images])
            probs = self.probabilities(task, [path for _, path in held])
            for (name, _), row in zip(held, probs):
                predicted = task.classes[int(row.argmax())]
                confusion[names.index(name), names.index(predicted)] += 1
        progress(1.0, 'done')
        total = int(confusion.sum())
        return float(np.trace(confusion)) / total, confusion, total

    @staticmethod
    def probabilities(task: CustomTask, paths: Sequence[str]) -> torch.Tensor:
        """Class probabilities [Q, N], in batches of :data:`BATCH`."""
        return torch.cat([
            task.probabilities(list(paths[i:i + BATCH]))
            for i in range(0, len(paths), BATCH)
        ])

    @staticmethod
    def classify(task: CustomTask, path: str, topk: int = 5
                 ) -> Dict[str, float]:
        """The ``topk`` most likely classes of one image with their
        probabilities."""
        probs = task.probabilities([path])[0]
        order = probs.argsort(descending=True)[:topk].tolist()
        return {task.classes[i]: float(probs[i]) for i in order}

    def classify_to_csv(self, task: CustomTask,
                        images: List[Tuple[str, str]], out: str) -> str:
        """Write one row per image to the CSV file ``out``: its name, the
        top class and every class's probability."""
        probs = self.probabilities(task, [path for path, _ in images])
        with open(out, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['image', 'top1', 'top1_probability'] +
                            [f'p({name})' for name in task.classes])
            for (_, name), row in zip(images, probs):
                best = int(row.argmax())
                writer.writerow([name, task.classes[best],
                                 f'{float(row[best]):.4f}'] +
                                [f'{float(p):.4f}' for p in row])
        return out

    def preview(self, path: str, side: int = 140) -> np.ndarray:
        """The image as the model gets it (its size, colour and inversion),
        enlarged to about ``side`` pixels without smoothing."""
        image = self.base.prepare(path, osp.basename(path))
        array = image.permute(1, 2, 0).cpu().numpy()
        array = np.clip(array, 0, 255).astype(np.uint8)
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        scale = max(1, side // max(array.shape[:2]))
        return array.repeat(scale, axis=0).repeat(scale, axis=1)

    def domain_warnings(self, paths: Sequence[str]) -> List[str]:
        """Signs that ``paths`` are unlike the model's training images:
        colour a grey model drops, much detail lost to a small input, and
        (grey inverted models, trained on dark strokes on white) images
        that stay mostly bright after the inversion."""
        if not paths:
            return []
        colourful, sides, bright = 0, [], []
        for path in paths:
            with Image.open(path) as image:
                sides.append(min(image.size))
                rgb = np.asarray(image.convert('RGB'), dtype=np.int16)
            spread = rgb.max(axis=2) - rgb.min(axis=2)
            colourful += float(spread.mean()) > 25
            if self.channels == 1 and self.inverted:
                seen = self.base.prepare(path, osp.basename(path))
                bright.append(float(seen.float().mean()) / 255)
        warnings = []
        if self.channels == 1 and colourful:
            warnings.append(
                f'{colourful} of {len(paths)} images are in colour, but the '
                f'model sees grey {self.width}x{self.height} images: colour '
                'does not help it tell your classes apart')
        side = float(np.median(sides))
        if side > 4 * max(self.height, self.width):
            warnings.append(
                f'your images (about {side:.0f} px) are shrunk to '
                f'{self.width}x{self.height}: fine detail is lost')
        if bright and np.mean(bright) > 0.35:
            warnings.append(
                'after the inversion the model sees mostly bright images '
                f'(mean {np.mean(bright):.0%} white): it was trained on '
                'thin dark strokes on a white background (handwritten '
                'characters), not on photos')
        return warnings


def confusion_picture(confusion: np.ndarray,
                      classes: Sequence[str]) -> np.ndarray:
    """The confusion matrix (rows: true class, columns: predicted) drawn
    as an RGB image."""
    from matplotlib.figure import Figure
    size = 1.6 + 0.5 * len(classes)
    figure = Figure(figsize=(size + 1, size), dpi=90)
    axes = figure.add_subplot()
    axes.imshow(confusion, cmap='Blues', vmin=0)
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha='right')
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel('predicted')
    axes.set_ylabel('true')
    for (i, j), count in np.ndenumerate(confusion):
        dark = count > confusion.max() / 2
        axes.text(j, i, str(count), ha='center', va='center',
                  color='white' if dark else 'black')
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png')
    return np.asarray(Image.open(buffer).convert('RGB'))


def load_saved_task(path: str) -> CustomTask:
    """A task saved by :meth:`CustomTask.save`, loaded weights-only;
    any failure becomes a ValueError naming the file."""
    name = osp.basename(path)
    try:
        return CustomTask.load(path)
    except Exception as err:  # torch / pickle / config errors of all kinds
        reason = str(err).replace(path, name).split('\n')[0]
        raise ValueError(f'{name} is not a readable saved model: '
                         f'{reason}') from None
