"""benchmarks/collect_budget.py on hand-made results of two runs: the
accuracy table, each model's paired gain between runs over the episodes
both share (a 2-episode run against a 4-episode one), the ordering, and the
model-zoo entries (warm start's minutes, the command), against hand
computations."""
import os
import os.path as osp
import sys

import pytest

from conftest import load_script
from test_collect_cross_domain import row, write

BUDGET = load_script('benchmarks/collect_budget.py')

T32 = 'baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot.py'
MM32 = 'mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py'


def make_run(out, times, models):
    """A study run: DIR/<model>[@adapter]/ results, the dumped configs and
    train_times.txt."""
    for folder, rows in models.items():
        write(osp.join(out, folder), rows)
        model = folder.split('@')[0]
        config = MM32 if model.startswith('mtl') else T32
        open(osp.join(out, model, config), 'w').close()
    with open(osp.join(out, 'train_times.txt'), 'w') as f:
        for run, (fit, minutes, wall) in times.items():
            f.write(f'{run}: {fit} iterations fit in {minutes} cpu min, '
                    'stopped after (not stopped by the budget) iterations, '
                    f'wall time {wall} s with validation\n')


@pytest.fixture
def runs(tmp_path):
    short, long = str(tmp_path / 'b10'), str(tmp_path / 'b30')
    make_run(short, {'transfer': (100, '10', 700),
                     'transfer-half': (50, '5.0', 400),
                     'mtl-maml-warm': (20, '5.0', 300)}, {
        'transfer': [row(5, 1, [50.0, 60.0])],
        'transfer@centroid': [row(5, 1, [40.0, 60.0])],
        'mtl-maml-warm': [row(5, 1, [60.0, 60.0])],
    })
    make_run(long, {'transfer': (300, '30', 2000),
                    'transfer-half': (150, '15.0', 1100),
                    'mtl-maml-warm': (60, '15.0', 900)}, {
        'transfer': [row(5, 1, [70.0, 60.0, 0.0, 0.0])],
        'transfer@centroid': [row(5, 1, [60.0, 80.0, 10.0, 10.0])],
        'mtl-maml-warm': [row(5, 1, [50.0, 50.0, 100.0, 100.0])],
    })
    return [('10', short), ('30', long)]


def test_tables(runs, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'tables')
    monkeypatch.setattr(sys, 'argv', [
        BUDGET.__file__, *(f'{label}={d}' for label, d in runs), '--out', out
    ])
    BUDGET.main()
    printed = capsys.readouterr().out
    with open(osp.join(out, 'budget.md')) as f:
        table = f.read()
    assert table in printed
    lines = table.splitlines()
    # the warm start's iterations and budget: its Baseline's, then its own
    assert '| 30 | MTL-MAML (warm start) | 150 + 60 | 15.0 cpu min + 15.0 ' \
        'cpu min | 1100 + 900 |' in lines
    assert '| ways | shots | Transfer, 10 | MTL-MAML (warm start), 10 | ' \
        'Transfer, 30 | MTL-MAML (warm start), 30 |' in lines
    # own adapter: the 30-run Transfer 32.5 +- 1.96 * 32.69 / 2
    assert '| 5 | 1 | 55.00 +- 6.93 | 60.00 +- 0.00 | 32.50 +- 32.04 | ' \
        '75.00 +- 24.50 |' in lines
    # gain 30 - 10 over the first 2 episodes: Transfer own +20, 0: mean 10,
    # std 10, CI 13.86; centroid +20, +20: exactly +20 (CI 0, starred);
    # the warm start -10, -10
    own_gain = lines.index('Gain from one run to the next, adapter: own '
                           '(paired, points, 95% CI; * where the CI '
                           'excludes 0):')
    assert lines[own_gain + 4] == '| 5 | 1 | +10.00 +- 13.86 (2 ep.) | ' \
        '-10.00 +- 0.00* (2 ep.) |'
    assert '| 5 | 1 | +20.00 +- 0.00* (2 ep.) |' in lines
    # orderings: the warm start ahead in both runs; W - T at 30: -20, -10,
    # +100, +100: mean 42.5, std sqrt(3318.75), CI 56.46
    assert '| 5 | 1 | 10 | W > T | +5.00 +- 6.93 |' in lines
    assert '| 5 | 1 | 30 | W > T | +42.50 +- 56.46 |' in lines
    assert osp.getsize(osp.join(out, 'budget.png')) > 10000
    with open(osp.join(out, 'budget.csv')) as f:
        assert len(f.read().splitlines()) == 1 + 6


def test_model_zoo_entries(runs, tmp_path, monkeypatch):
    root = tmp_path / 'repo'
    for method, name in (('transfer', T32), ('mtl', MM32)):
        os.makedirs(root / 'configs' / method)
        open(root / 'configs' / method / name, 'w').close()
    monkeypatch.setattr(BUDGET, 'ROOT', str(root))
    entries = BUDGET.metafile_entries(BUDGET.collect(runs), runs,
                                      'python collect\n')
    mtl = entries[str(root / 'configs' / 'mtl' / 'metafile.yml')]
    warm = {e['Name']: e for e in mtl}
    # 15 Baseline minutes + 15 of its own: the study's BUDGET=30; its
    # 4 episodes per cell, not the default 600
    entry = warm['mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot_'
                 '30cpu-min_warm-start_table1']
    assert entry['Command'] == (
        f'OUT={runs[1][1]} BUDGET=30 EPISODES=4 bash '
        'benchmarks/mini_imagenet_table1.sh budget mtl-maml-warm\n'
        'python collect\n')
    assert entry['Metadata']['Iterations'] == 60
    assert entry['Results'][0]['Metrics']['Accuracy'] == 75.0
    assert 'the first 15.0 cpu min a Baseline' in \
        entry['Metadata']['Training Budget']
    names = [e['Name'] for e in entries[str(root / 'configs' / 'transfer' /
                                            'metafile.yml')]]
    assert names == [
        'baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot_10cpu-min_table1',
        'baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot_30cpu-min_table1'
    ]


def test_a_run_must_be_label_and_directory(tmp_path):
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match='LABEL=DIR'):
        BUDGET.parse_run(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match='not a directory'):
        BUDGET.parse_run(f'30={tmp_path}/missing')
