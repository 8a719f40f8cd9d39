"""Full-resolution (84x84) MAML and MTL-MAML on real miniImageNet for a few
minutes each, for a GPU: seconds per meta-iteration and the first
meta-validations, as a table.

The published setting (Finn et al.'s Conv4-32, meta-batch 4 of 5-way 1-shot
15-query episodes, 5 second-order inner steps) is what the 32x32 CPU
protocol of docs/mtl.md reduces; this script shows what a GPU makes of it.
Each config trains for ``--minutes`` of training iterations through
tools/train.py (the time budget of FewShotTrainLoop, wall clock), validating every
``--val-interval`` iterations on ``--val-episodes`` seeded val episodes;
each split is decoded into memory first (``cache_images``), so JPEG decoding
does not time the loader instead of the model.

    python benchmarks/full_resolution_run.py                 # GPU, 5 min each
    python benchmarks/full_resolution_run.py --minutes 2 --val-interval 200

Needs data/mini_imagenet (docs/datasets.md). Refuses to run without CUDA
unless ``--allow-cpu`` (then it is a smoke run: on our CPU one iteration
takes about 16 s).
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'MAML': 'configs/maml/maml_conv4_1xb4_mini-imagenet_5way-1shot.py',
    'MTL-MAML': 'configs/mtl/mtl-maml_conv4_1xb4_mini-imagenet_5way-1shot.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minutes', type=float, default=5.0)
    parser.add_argument('--val-interval', type=int, default=500)
    parser.add_argument('--val-episodes', type=int, default=100)
    parser.add_argument('--methods', nargs='+', default=list(CONFIGS),
                        choices=list(CONFIGS))
    parser.add_argument('--work-dir', default='work_dirs/full_resolution')
    parser.add_argument('--allow-cpu', action='store_true')
    return parser.parse_args(argv)


def train(config: str, work: str, args) -> None:
    """One budgeted training run; its log goes to ``work``.log."""
    cache = 'dataset.cache_images=True'
    options = [
        f'train_cfg.val_interval={args.val_interval}',
        f'default_hooks.checkpoint.interval={args.val_interval}',
        'default_hooks.logger.interval=10',
        'log_processor.window_size=10',
        f'val_dataloader.dataset.num_episodes={args.val_episodes}',
        f'train_dataloader.dataset.{cache}',
        f'val_dataloader.dataset.{cache}',
    ]
    command = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work,
        '--time-budget', str(args.minutes), '--cfg-options', *options
    ]
    with open(work + '.log', 'w') as log:
        subprocess.run(command, cwd=REPO, stdout=log, stderr=log, check=True)


def scalars(work: str) -> list:
    """mmengine's scalar log of the newest run in ``work``."""
    files = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work}: see '
                                f'{work}.log')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(rows: list) -> dict:
    """Median logged iteration and data time (past the first window, which
    holds the warm-up), iterations done, and the validations."""
    train = [r for r in rows if 'train/loss' in r]
    steady = train[1:] or train
    vals = [(r['step'], r['val/accuracy_mean'], r['val/accuracy_ci95'])
            for r in rows if 'val/accuracy_mean' in r]
    return dict(
        iterations=max((r['step'] for r in rows), default=0),
        seconds=statistics.median(r['train/time'] for r in steady)
        if steady else float('nan'),
        data_seconds=statistics.median(r['train/data_time'] for r in steady)
        if steady else float('nan'),
        validations=vals)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        raise SystemExit('full_resolution_run.py is for a GPU (no CUDA '
                         'device here); --allow-cpu runs it anyway')
    device = (torch.cuda.get_device_name()
              if torch.cuda.is_available() else 'CPU')
    os.makedirs(args.work_dir, exist_ok=True)
    results = {}
    for method in args.methods:
        work = osp.join(args.work_dir, method.lower())
        train(CONFIGS[method], work, args)
        results[method] = summary(scalars(work))
    print(f'\nminiImageNet 84x84, 5-way 1-shot 15-query, meta-batch 4, '
          f'{args.minutes:g} min of training each, {device}; validation: '
          f'{args.val_episodes} val episodes (5-way 1-shot)\n')
    print('| method | config | iterations | s / iteration | data s / '
          'iteration | validations (iteration: accuracy +- 95% CI) |')
    print('|---|---|---|---|---|---|')
    for method, r in results.items():
        vals = '; '.join(f'{step}: {acc:.2f} +- {ci:.2f}'
                         for step, acc, ci in r['validations'])
        print(f"| {method} | `{osp.basename(CONFIGS[method])}` | "
              f"{r['iterations']} | {r['seconds']:.3f} | "
              f"{r['data_seconds']:.3f} | {vals or '-'} |")
    if 'MAML' in results and 'MTL-MAML' in results:
        ratio = results['MTL-MAML']['seconds'] / results['MAML']['seconds']
        print(f'\nMTL-MAML / MAML iteration time: {ratio:.2f}')


if __name__ == '__main__':
    main()
