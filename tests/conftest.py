"""Shared fixtures: the real Omniglot release (from $MMMTL_OMNIGLOT or
../shared/data/omniglot) and tiny generated datasets."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

import mmmtl  # noqa: F401
from mmmtl.utils import register_all_modules

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def find_omniglot():
    """Folder holding omniglot_images.tar.gz and splits_vinyals/, or None."""
    candidates = [
        os.environ.get('MMMTL_OMNIGLOT'),
        osp.join(REPO, '..', 'shared', 'data', 'omniglot')
    ]
    for path in candidates:
        if path and osp.isfile(osp.join(path, 'omniglot_images.tar.gz')):
            return osp.abspath(path)
    return None


@pytest.fixture(autouse=True, scope='session')
def single_thread():
    """The tests use tiny tensors: one thread avoids OpenMP overhead (on a
    shared 2-core machine two threads made them up to 100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def omniglot_release():
    """(archive path, Vinyals split folder) of the real Omniglot."""
    root = find_omniglot()
    if root is None:
        pytest.skip('real Omniglot not found: set MMMTL_OMNIGLOT to a folder '
                    'with omniglot_images.tar.gz and splits_vinyals/')
    return (osp.join(root, 'omniglot_images.tar.gz'),
            osp.join(root, 'splits_vinyals'))


def write_tiny_omniglot(root, alphabets=2, characters=3, drawings=6,
                        size=20):
    """A small Omniglot in the release layout: images_background/ and
    images_evaluation/ with ``alphabets`` alphabets each, plus a Vinyals
    split folder at root/splits/vinyals. Returns the class names (without
    rotation) per folder."""
    rng = np.random.default_rng(0)
    names = {}
    for folder in ('images_background', 'images_evaluation'):
        names[folder] = []
        for a in range(alphabets):
            alphabet = f'{folder[7:11].title()}{a}'
            for c in range(1, characters + 1):
                char_dir = osp.join(root, folder, alphabet,
                                    f'character{c:02d}')
                os.makedirs(char_dir)
                for d in range(1, drawings + 1):
                    pixels = rng.random((size, size)) > 0.2
                    Image.fromarray(pixels).convert('1').save(
                        osp.join(char_dir, f'{c:02d}{a}{d}_{d:02d}.png'))
                names[folder].append(f'{alphabet}/character{c:02d}')
    split_dir = osp.join(root, 'splits', 'vinyals')
    os.makedirs(split_dir)
    background = names['images_background']
    evaluation = names['images_evaluation']
    splits = dict(
        train=background[:-1], val=background[-1:], test=evaluation)
    splits['trainval'] = splits['train'] + splits['val']
    for split, chars in splits.items():
        with open(osp.join(split_dir, f'{split}.txt'), 'w') as f:
            for ch in chars:
                for rot in (0, 90, 180, 270):
                    f.write(f'{ch}/rot{rot:03d}\n')
    return names


@pytest.fixture
def tiny_omniglot(tmp_path):
    root = tmp_path / 'omniglot'
    names = write_tiny_omniglot(str(root))
    return str(root), names


def random_meta_batch(ways, shots, queries, tasks, num_classes, seed=0,
                      size=8):
    """T random float64 episodes in the collated format (support first):
    images [T, N*(K+Q), 1, size, size] and their labels, each task's
    classes drawn from ``num_classes`` global ones."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(
        tasks,
        ways * (shots + queries),
        1,
        size,
        size,
        generator=gen,
        dtype=torch.float64)
    episode = torch.cat([
        torch.arange(ways).repeat_interleave(shots),
        torch.arange(ways).repeat_interleave(queries)
    ]).repeat(tasks, 1)
    classes = torch.stack([
        torch.randperm(num_classes, generator=gen)[:ways]
        for _ in range(tasks)
    ])
    return inputs, dict(
        episode_label=episode,
        gt_label=torch.gather(classes, 1, episode),
        num_ways=ways,
        num_shots=shots,
        num_queries=queries)
