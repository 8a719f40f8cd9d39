"""End-to-end: tools/train.py, tools/test.py and the torchrun scripts on a
tiny generated Omniglot."""
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import torch

from conftest import (REPO, assert_row_is_the_hand_run, free_port,
                      hand_meta_test)
from mmmtl.utils.checkpoint import load_checkpoint_file

from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool

CONFIG = osp.join(REPO, 'configs', 'transfer',
                  'baseline-plus_conv4_1xb128_omniglot_5way-1shot.py')


def tiny_options(root, iters=4):
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.dataset.data_root={root}',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.batch_size=8',
        'model.backbone.channels=[8,8,8,8]',
        'model.head.in_channels=8',
        'model.head.num_classes=20',
        'model.adapter.num_steps=3',
        f'train_cfg.max_iters={iters}',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
        'val_dataloader.dataset.num_ways=3',
        'val_dataloader.dataset.num_queries=2',
        'val_dataloader.dataset.num_episodes=4',
        'test_dataloader.dataset.num_queries=2',
    ]


def test_train_then_meta_test(tiny_omniglot, tmp_path):
    root, _ = tiny_omniglot
    work = str(tmp_path / 'work')
    train_tool.main([CONFIG, '--work-dir', work, '--cfg-options',
                     *tiny_options(root)])
    best = glob.glob(osp.join(work, 'best_accuracy_mean_iter_*.pth'))
    assert len(best) == 1 and osp.isfile(osp.join(work, 'iter_4.pth'))
    rows = test_tool.main([
        CONFIG, best[0], '--work-dir', work, '--ways', '2', '5', '--shots',
        '1', '3', '--episodes', '7', '--seed', '3', '--cfg-options',
        *tiny_options(root)
    ])
    assert [(r['num_ways'], r['num_shots']) for r in rows] == [(2, 1), (2, 3),
                                                             (5, 1), (5, 3)]
    assert all(r['num_episodes'] == 7 and r['seed'] == 3 for r in rows)
    # the numbers are those of the loaded weights on the seeded episodes
    by_hand = {}
    for r in rows:
        by_hand[r['num_ways'], r['num_shots']] = hand_meta_test(
            CONFIG, best[0], tiny_options(root), r['num_ways'],
            r['num_shots'], episodes=7, seed=3)
        assert_row_is_the_hand_run(r, by_hand[r['num_ways'], r['num_shots']])
        # the per-episode accuracies are kept, in episode order
        assert r['episode_accuracies'] == pytest.approx(
            by_hand[r['num_ways'], r['num_shots']], abs=1e-4)
    # (population and sample std differ here, so the std's kind is checked)
    assert rows[0]['accuracy_std'] > 0
    results = glob.glob(osp.join(work, 'meta_test_*.json'))
    assert len(results) == 1
    saved = json.load(open(results[0]))
    assert saved['results'] == rows
    base = results[0][:-5]
    with open(base + '.csv') as f:
        table = list(csv.DictReader(f))
    assert [(int(r['num_ways']), int(r['num_shots']),
             float(r['accuracy_mean'])) for r in table] == [
                 (r['num_ways'], r['num_shots'], r['accuracy_mean'])
                 for r in rows
             ]
    markdown = open(base + '.md').read()
    queries = rows[3]['num_queries']
    assert (f"| 5 | 3 | {queries} | 7 | {rows[3]['accuracy_mean']:.2f} |"
            in markdown)
    # the plot: accuracy vs shots, a line per ways
    image = matplotlib.image.imread(base + '.png')
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    # meta-testing is deterministic: same checkpoint, same episodes
    again = test_tool.main([
        CONFIG, best[0], '--work-dir', work, '--ways', '2', '--shots', '1',
        '--episodes', '7', '--seed', '3', '--cfg-options', *tiny_options(root)
    ])
    assert again[0]['accuracy_mean'] == rows[0]['accuracy_mean']
    # another checkpoint, other numbers: the best one's convolution
    # kernels perturbed
    state = load_checkpoint_file(best[0], map_location='cpu')
    gen = torch.Generator().manual_seed(0)
    for value in state['state_dict'].values():
        if value.dim() == 4:
            value.add_(torch.randn(value.shape, generator=gen) * value.std())
    other = osp.join(work, 'perturbed.pth')
    torch.save(state, other)
    (moved, ) = test_tool.main([
        CONFIG, other, '--work-dir', work, '--ways', '2', '--shots', '1',
        '--episodes', '7', '--seed', '3', '--cfg-options', *tiny_options(root)
    ])
    other_by_hand = hand_meta_test(
        CONFIG, other, tiny_options(root), 2, 1, episodes=7, seed=3)
    assert_row_is_the_hand_run(moved, other_by_hand)
    assert other_by_hand != by_hand[2, 1]
    assert moved['accuracy_mean'] != rows[0]['accuracy_mean']
    # paired with the first meta-test (4 cells): the one this run shares
    # (2-way 1-shot) gets the mean per-episode difference (this minus that)
    # and 1.96 * its population std / sqrt(7)
    (paired, ) = test_tool.main([
        CONFIG, other, '--work-dir', work, '--ways', '2', '--shots', '1',
        '--episodes', '7', '--seed', '3', '--paired-with', results[0],
        '--cfg-options', *tiny_options(root)
    ])
    diff = np.asarray(other_by_hand) - np.asarray(by_hand[2, 1])
    assert paired['paired_diff_mean'] == pytest.approx(diff.mean(), abs=1e-4)
    assert paired['paired_diff_ci95'] == pytest.approx(
        1.96 * diff.std(ddof=0) / np.sqrt(7), abs=1e-4)
    assert paired['paired_diff_ci95'] > 0
    newest = max(glob.glob(osp.join(work, 'meta_test_*.json')),
                 key=osp.getmtime)
    saved = json.load(open(newest))
    assert saved['paired_with'] == results[0]
    assert saved['results'][0]['paired_diff_mean'] == paired[
        'paired_diff_mean']
    with open(newest[:-5] + '.csv') as f:
        (line, ) = list(csv.DictReader(f))
    assert float(line['paired_diff_ci95']) == paired['paired_diff_ci95']
    assert (f"| {paired['paired_diff_mean']:+.2f} +- "
            f"{paired['paired_diff_ci95']:.2f} |") in open(newest[:-5] +
                                                           '.md').read()
    # other episodes are refused before testing, naming the field
    for option, field in ((['--seed', '4'], 'seed'),
                          (['--episodes', '6'], 'num_episodes'),
                          (['--queries', '1'], 'num_queries')):
        episodes = {'--episodes': '7', '--seed': '3', **dict([option])}
        with pytest.raises(ValueError, match=f'differs in {field}'):
            test_tool.main([
                CONFIG, other, '--work-dir', work, '--ways', '2', '--shots',
                '1', *[w for kv in episodes.items() for w in kv],
                '--paired-with', results[0], '--cfg-options',
                *tiny_options(root)
            ])
    with pytest.raises(ValueError, match='no \\(ways, shots\\) cell in common'):
        test_tool.main([
            CONFIG, other, '--work-dir', work, '--ways', '3', '--shots', '1',
            '--episodes', '7', '--seed', '3', '--paired-with', results[0],
            '--cfg-options', *tiny_options(root)
        ])


def test_unknown_type_in_config_names_it(tiny_omniglot, tmp_path):
    root, _ = tiny_omniglot
    with pytest.raises(KeyError, match='Conv9'):
        train_tool.main([
            CONFIG, '--work-dir',
            str(tmp_path), '--cfg-options', *tiny_options(root),
            'model.backbone.type=Conv9'
        ])


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        test_tool.main([CONFIG, str(tmp_path / 'nope.pth')])


def test_two_cpu_ranks_train_and_test(tiny_omniglot, tmp_path):
    root, _ = tiny_omniglot
    work = str(tmp_path / 'dist')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    opts = tiny_options(root)
    with free_port() as port:
        env['PORT'] = str(port)
        run = subprocess.run([
            'bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '2',
            '--work-dir', work, '--cfg-options', *opts
        ], env=env, cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    best = glob.glob(osp.join(work, 'best_accuracy_mean_iter_*.pth'))
    assert len(best) == 1
    with free_port() as port:
        env['PORT'] = str(port)
        out = subprocess.run([
            'bash', osp.join(REPO, 'tools', 'dist_test.sh'), CONFIG, best[0],
            '2', '--work-dir', work, '--episodes', '5', '--cfg-options',
            *opts
        ], env=env, cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # 5 episodes split over 2 ranks (ways, shots, queries, episodes)
    assert '| 5 | 1 | 2 | 5 |' in out.stdout
    single = test_tool.main([
        CONFIG, best[0], '--work-dir', str(tmp_path / 'single'),
        '--episodes', '5', '--cfg-options', *opts
    ])
    # the 2 ranks evaluated exactly the episodes one process evaluates, and
    # report them in its order (paired comparisons match episode by index)
    saved = json.load(open(glob.glob(osp.join(work,
                                              'meta_test_*.json'))[0]))
    two_ranks = saved['results'][0]['episode_accuracies']
    assert two_ranks == pytest.approx(single[0]['episode_accuracies'])
    assert len(set(two_ranks)) > 1  # the order is visible
    assert saved['results'][0]['accuracy_mean'] == pytest.approx(
        single[0]['accuracy_mean'])
