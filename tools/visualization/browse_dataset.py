"""See what the model sees: a grid PNG of images after a config's data
pipeline, each titled with its class.

    python tools/visualization/browse_dataset.py CONFIG [--phase test]
        [--num 16] [--seed 0] [--out browse.png] [--cfg-options ...]
    python tools/visualization/browse_dataset.py CONFIG --images DIR
        [--num 16] [--out browse.png]

Without ``--images`` the images come from the config's ``<phase>_dataloader``
dataset (an ``EpisodicDataset`` unwrapped to its image dataset), drawn with
``--seed``. With ``--images DIR`` they are your own (DIR: images, or class
folders of images, searched recursively), prepared exactly as
``tools/adapt.py`` prepares them (the test pipeline, ``ImagePreparer``):
the Omniglot configs, for one, turn a colour photo grey, inverted and 28
pixels wide. The images are shown as the pipeline leaves them (uint8,
before the model's normalisation), channels in the order the model gets
them.
"""
import argparse
import os
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--phase',
        choices=['train', 'val', 'test'],
        default='test',
        help='whose dataloader\'s dataset and pipeline (default: test)')
    parser.add_argument(
        '--images',
        metavar='DIR',
        help='your own images (or class folders of them) instead, prepared '
        'as tools/adapt.py prepares them')
    parser.add_argument(
        '--num', type=int, default=16, help='images in the grid')
    parser.add_argument(
        '--seed', type=int, default=0, help='which dataset images')
    parser.add_argument(
        '--out', default='browse_dataset.png', help='the PNG to write')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys')
    return parser


def image_dataset_cfg(cfg: Config, phase: str) -> dict:
    """The image dataset of ``<phase>_dataloader``, episode wrappers
    unwrapped."""
    loader = cfg.to_dict().get(f'{phase}_dataloader')
    if not loader:
        raise KeyError(f'{cfg.filename}: no {phase}_dataloader')
    dataset = loader['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def dataset_samples(cfg: Config, phase: str, num: int,
                    seed: int) -> List[Tuple[torch.Tensor, str]]:
    """``num`` (image after the pipeline, class name) pairs of the phase's
    dataset, drawn without replacement with ``seed``."""
    from mmmtl.registry import DATASETS
    dataset = DATASETS.build(image_dataset_cfg(cfg, phase))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(dataset), min(num, len(dataset)), replace=False)
    samples = []
    for index in sorted(picked.tolist()):
        item = dataset[index]
        label = int(item['gt_label'])
        samples.append((item['img'], dataset.classes[label]))
    return samples


def own_images(folder: str) -> List[Tuple[str, str]]:
    """(path, label) of the images under ``folder``: the label is the
    image's folder name below ``folder``, else its file name."""
    from mmmtl.apis.custom_task import IMAGE_EXTENSIONS
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--images {folder}: no such folder')
    found = []
    for root, _, names in sorted(os.walk(folder)):
        for name in sorted(names):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                path = osp.join(root, name)
                relative = osp.relpath(root, folder)
                found.append((path, name if relative == '.' else relative))
    if not found:
        raise ValueError(f'--images {folder} holds no '
                         f'{"/".join(IMAGE_EXTENSIONS)} images')
    return found


def prepared_images(cfg: Config, folder: str,
                    num: int) -> List[Tuple[torch.Tensor, str]]:
    """The first ``num`` images of ``folder`` as the config's test data
    prepares them (:class:`mmmtl.apis.ImagePreparer`)."""
    from mmmtl.apis import ImagePreparer, find_test_dataset_cfg
    prepare = ImagePreparer(find_test_dataset_cfg(cfg))
    return [(prepare(path, path), label)
            for path, label in own_images(folder)[:num]]


def draw_grid(samples: Sequence[Tuple[torch.Tensor, str]], path: str,
              title: str) -> Tuple[int, int]:
    """Save the images ([C, H, W] uint8) in a grid, each titled with its
    label and size; returns (rows, columns)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    columns = min(8, len(samples))
    rows = -(-len(samples) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(max(1.6 * columns, 6), 1.8 * rows + 0.6),
        squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, (image, label) in zip(axes.flat, samples):
        array = image.numpy() if isinstance(image, torch.Tensor) else image
        channels, height, width = array.shape
        shown = array[0] if channels == 1 else array.transpose(1, 2, 0)
        ax.imshow(shown, cmap='gray' if channels == 1 else None,
                  vmin=0, vmax=255)
        ax.set_title(f'{label}\n{channels}x{height}x{width}', fontsize=6)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return rows, columns


def main(argv=None) -> List[Tuple[torch.Tensor, str]]:
    args = build_parser().parse_args(argv)
    if args.num < 1:
        raise SystemExit(f'--num must be >= 1, got {args.num}')
    from mmmtl.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.images:
        samples = prepared_images(cfg, args.images, args.num)
        source = f'{args.images} through the test pipeline'
    else:
        samples = dataset_samples(cfg, args.phase, args.num, args.seed)
        source = f'{args.phase} dataset, seed {args.seed}'
    title = (f'{osp.basename(args.config)}\n{source}, as the model sees them')
    rows, columns = draw_grid(samples, args.out, title)
    print(f'{len(samples)} images ({rows} x {columns} grid) written to '
          f'{args.out}')
    return samples


if __name__ == '__main__':
    main()
