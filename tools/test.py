"""Meta-test a checkpoint on seeded episodes, for one or several ways x
shots settings: python tools/test.py CONFIG CHECKPOINT [--ways 5 20]
[--shots 1 5] [--episodes 600] [--seed 0]"""
import argparse
import copy
import csv
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import mmmtl  # noqa: E402,F401
from mmmtl.engine.hooks import MetaTestProgressHook  # noqa: E402
from mmmtl.utils import register_all_modules  # noqa: E402
from train import (add_threads_option, finish_distributed,  # noqa: E402
                   setup_cfg, setup_threads)

METRIC_KEYS = ('accuracy_mean', 'accuracy_std', 'accuracy_ci95')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Meta-test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where results go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--ways', type=int, nargs='+', help='N of N-way')
    parser.add_argument('--shots', type=int, nargs='+', help='K of K-shot')
    parser.add_argument('--queries', type=int, help='queries per class')
    parser.add_argument('--episodes', type=int, help='number of episodes')
    parser.add_argument('--seed', type=int, help='episode seed')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys')
    add_threads_option(parser)
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    for name in ('ways', 'shots', 'queries', 'episodes'):
        values = getattr(args, name)
        if values is not None and min(
                values if isinstance(values, list) else [values]) < 1:
            parser.error(f'--{name} must be >= 1, got {values}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def episodic_dataset_cfg(dataloader_cfg: dict, config_path: str) -> dict:
    dataset = dataloader_cfg['dataset']
    if dataset.get('type') != 'EpisodicDataset':
        raise ValueError(f'{config_path}: test_dataloader.dataset must be an '
                         'EpisodicDataset to meta-test')
    return dataset


def write_results(base: str, rows: list, meta: dict) -> str:
    """Write results as JSON, CSV, markdown and a PNG plot (accuracy vs
    shots, one line per ways) at ``base`` + extension; return the markdown
    table. Called after every (ways, shots) cell with the rows so far, so a
    failing later cell loses nothing."""
    with open(base + '.json', 'w') as f:
        json.dump(dict(meta, results=rows), f, indent=2)
    fields = ['num_ways', 'num_shots', 'num_episodes', *METRIC_KEYS]
    with open(base + '.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        '| ways | shots | episodes | accuracy (%) | 95% CI | std |',
        '|---|---|---|---|---|---|'
    ]
    for r in rows:
        lines.append(f"| {r['num_ways']} | {r['num_shots']} | "
                     f"{r['num_episodes']} | {r['accuracy_mean']:.2f} | "
                     f"+- {r['accuracy_ci95']:.2f} | "
                     f"{r['accuracy_std']:.2f} |")
    table = '\n'.join(lines)
    title = (f"{osp.basename(meta['config'])}, seed {meta['seed']}")
    with open(base + '.md', 'w') as f:
        f.write(f"{meta['config']}, {meta['checkpoint']}, seed "
                f"{meta['seed']}\n\n{table}\n\n![accuracy vs shots]"
                f"({osp.basename(base)}.png)\n")
    plot_results(rows, base + '.png', title)
    return table


def plot_results(rows: list, path: str, title: str) -> None:
    """Accuracy vs shots, one line per ways, with 95% CI error bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for ways in sorted({r['num_ways'] for r in rows}):
        line = sorted((r for r in rows if r['num_ways'] == ways),
                      key=lambda r: r['num_shots'])
        ax.errorbar([r['num_shots'] for r in line],
                    [r['accuracy_mean'] for r in line],
                    yerr=[r['accuracy_ci95'] for r in line],
                    marker='o',
                    capsize=3,
                    label=f'{ways}-way')
    ax.set_xlabel('shots')
    ax.set_ylabel('accuracy (%), 95% CI')
    ax.set_xticks(sorted({r['num_shots'] for r in rows}))
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    setup_threads(args.threads)
    register_all_modules()
    from mmmtl.registry import RUNNERS
    cfg = setup_cfg(args, Config.fromfile(args.config))
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint
    cfg.load_from_strict = True  # the model must be the checkpoint's
    cfg.resume = False
    base_loader = copy.deepcopy(cfg.test_dataloader)
    episodes = episodic_dataset_cfg(base_loader, args.config)
    for key, value in (('num_queries', args.queries),
                       ('num_episodes', args.episodes), ('seed',
                                                         args.seed)):
        if value is not None:
            episodes[key] = value
    ways_list = args.ways or [episodes['num_ways']]
    shots_list = args.shots or [episodes['num_shots']]

    runner = RUNNERS.build(cfg)
    runner.register_hook(
        MetaTestProgressHook(num_cells=len(ways_list) * len(shots_list)))
    base = osp.join(runner.work_dir,
                    f"meta_test_{time.strftime('%Y%m%d_%H%M%S')}")
    meta = dict(
        config=args.config, checkpoint=args.checkpoint, seed=episodes['seed'])
    rows = []
    for ways in ways_list:
        for shots in shots_list:
            loader = copy.deepcopy(base_loader)
            loader['dataset'].update(num_ways=ways, num_shots=shots)
            # the Runner builds its test loop lazily from these two configs;
            # resetting them meta-tests the loaded model on a new setting
            runner._test_dataloader = loader
            runner._test_loop = copy.deepcopy(cfg.test_cfg)
            runner.logger.info(f'meta-testing {ways}-way {shots}-shot on '
                               f"{loader['dataset']['num_episodes']} "
                               f"episodes (seed {loader['dataset']['seed']})")
            metrics = runner.test()
            rows.append(
                dict(
                    num_ways=ways,
                    num_shots=shots,
                    num_queries=loader['dataset']['num_queries'],
                    num_episodes=metrics['num_episodes'],
                    seed=loader['dataset']['seed'],
                    **{k: metrics[k]
                       for k in METRIC_KEYS}))
            if get_rank() == 0:
                table = write_results(base, rows, meta)
    if get_rank() == 0:
        print(table)
        print(f'results written to {base}.json / .csv / .md / .png')
    finish_distributed()
    return rows


if __name__ == '__main__':
    main()
