"""Shared by the web app's tests: a tiny randomly initialised model
exported as the model index ships models, and images of coloured shapes
as a user's classes."""
import os
import os.path as osp

import numpy as np
import torch
from PIL import Image, ImageDraw

from conftest import REPO, load_script

BASE_CONFIG = osp.join(
    REPO, 'configs', 'transfer',
    'baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py')
SHAPES = {'red circle': (220, 30, 30), 'green square': (30, 170, 60),
          'blue triangle': (40, 60, 220)}

export_model = load_script('tools/misc/export_model.py')


def write_tiny_config(folder: str) -> str:
    """Conv4-8 Baseline on 32x32 RGB (the default model's config, made
    small), with a short meta-test fine-tuning."""
    path = osp.join(folder, 'tiny_baseline.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{BASE_CONFIG!r}]\n'
                'model = dict(backbone=dict(channels=(8, 8, 8, 8)),\n'
                '             head=dict(in_channels=32, num_classes=5),\n'
                '             adapter=dict(num_steps=20))\n')
    return path


def export_tiny_model(folder: str, seed: int = 0):
    """(config, weights file, sha256): a randomly initialised tiny model
    saved as a training checkpoint, then exported by
    tools/misc/export_model.py."""
    from mmengine.config import Config

    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    config = write_tiny_config(folder)
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    checkpoint = osp.join(folder, 'iter_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1),
                    optimizer=dict(state={}, param_groups=[])), checkpoint)
    weights = osp.join(folder, 'weights', 'tiny.pth')
    sha256 = export_model.main([config, checkpoint, weights,
                                '--name', 'tiny'])
    return config, weights, sha256


def shape_image(colour, kind: str, seed: int, size: int = 64) -> Image.Image:
    """A filled shape of ``colour`` on white, at a seeded position."""
    rng = np.random.default_rng(seed)
    image = Image.new('RGB', (size, size), 'white')
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(4, size // 3, size=2)
    box = (x, y, x + size // 2, y + size // 2)
    if kind == 'circle':
        draw.ellipse(box, fill=colour)
    elif kind == 'square':
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(box[0], box[3]), (box[2], box[3]),
                      ((box[0] + box[2]) // 2, box[1])], fill=colour)
    return image


def write_shapes(folder: str, per_class: int = 3, seed: int = 0) -> dict:
    """{class name: [png paths]} under ``folder/<class>/``."""
    classes = {}
    for c, (name, colour) in enumerate(SHAPES.items()):
        os.makedirs(osp.join(folder, name), exist_ok=True)
        classes[name] = []
        for i in range(per_class):
            path = osp.join(folder, name, f'{i}.png')
            shape_image(colour, name.split()[1],
                        seed + 100 * c + i).save(path)
            classes[name].append(path)
    return classes
