"""Data time of miniImageNet episodes: images decoded per item (the default)
vs. decoded once into memory (``cache_images=True``), on the real data.

    python benchmarks/mini_imagenet_data_time.py [--data-root DIR]
        [--split test] [--episodes 20] [--ways 5] [--shots 1]
        [--queries 15] [--image-size 84]

Samples the same seeded episodes through ``EpisodicDataset`` +
``episode_collate`` in this process, one thread (OpenCV too, as the
configs' ``opencv_num_threads=0``): what a Runner with ``num_workers=0``
logs as ``data_time``. ``--image-size 84`` uses the config's test pipeline;
``--image-size 32`` (a reduced-resolution protocol) resizes to 32x32 (area)
right after loading, so that the cache holds 32x32 images, and also times
the resize kept per item on top of an 84x84 cache. Wall and process CPU
time (the CPU time is less disturbed by other jobs on a shared machine).
The cache is built
first (it reads every file of the split once), so the per-item numbers
are taken with the files in the page cache: the best case for per-item
decoding. Prints a markdown table.
"""
import argparse
import os
import os.path as osp
import time

import cv2
import torch
from mmengine.config import Config

import mmmtl  # noqa: F401
from mmmtl.datasets import EpisodicDataset, MiniImageNet, episode_collate
from mmmtl.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root',
        default=os.environ.get('MMMTL_MINI_IMAGENET',
                               osp.join(REPO, 'data', 'mini_imagenet')))
    parser.add_argument('--split', default='test')
    parser.add_argument('--episodes', type=int, default=20)
    parser.add_argument('--ways', type=int, default=5)
    parser.add_argument('--shots', type=int, default=1)
    parser.add_argument('--queries', type=int, default=15)
    parser.add_argument('--image-size', type=int, default=84,
                        choices=(84, 32))
    return parser.parse_args()


def pipelines(image_size: int):
    """(pipeline, label) pairs to time at ``image_size``."""
    test = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/mini_imagenet.py')
    ).test_pipeline
    if image_size == 84:
        return [(test, 'config test pipeline')]
    resize = dict(type='Resize', scale=(image_size, image_size),
                  interpolation='area')
    tail = [t for t in test if t['type'] != 'ResizeCenterCrop'][1:]
    return [([test[0], resize] + tail, f'resize to {image_size} at load'),
            ([test[0], test[1], dict(type='BGRToRGB'), resize] + tail[1:],
             f'84 cached, resize to {image_size} per item')]


def time_episodes(dataset, args) -> tuple:
    """(wall, process CPU) seconds per episode (item + collate), over
    ``args.episodes``."""
    episodes = EpisodicDataset(dataset, args.ways, args.shots, args.queries,
                               num_episodes=args.episodes, seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(args.episodes):
        batch = episode_collate([episodes[i]])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert batch['img'].dtype == torch.uint8
    return wall / args.episodes, cpu / args.episodes


def main():
    args = parse_args()
    register_all_modules()
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    images = args.ways * (args.shots + args.queries)
    print(f'{args.data_root}, split {args.split}, {args.episodes} episodes '
          f'of {args.ways}-way {args.shots}-shot {args.queries}-query '
          f'({images} images each), {args.image_size}x{args.image_size}\n')
    rows = []
    for pipeline, label in pipelines(args.image_size):
        start = time.perf_counter()
        cached = MiniImageNet(data_root=args.data_root, split=args.split,
                              pipeline=pipeline, cache_images=True)
        build = time.perf_counter() - start
        plain = MiniImageNet(data_root=args.data_root, split=args.split,
                             pipeline=pipeline)
        for name, dataset in (('per item', plain), ('cached', cached)):
            wall, cpu = time_episodes(dataset, args)
            rows.append((label, name, wall * 1e3, cpu * 1e3,
                         cpu / images * 1e6,
                         f'{build:.1f} s, {cached.cached_bytes / 1e6:.0f} '
                         'MB' if name == 'cached' else ''))
    print('| pipeline | decoding | wall ms / episode | CPU ms / episode | '
          'CPU us / image | cache build (wall), memory |')
    print('|---|---|---|---|---|---|')
    for label, name, wall, cpu, us, build in rows:
        print(f'| {label} | {name} | {wall:.1f} | {cpu:.1f} | {us:.0f} | '
              f'{build} |')


if __name__ == '__main__':
    main()
