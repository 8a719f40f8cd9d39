"""benchmarks/collect_table1.py on hand-made results: the Table-1 verdicts,
the standard-split table beside the published numbers, and MTL's paired
difference to its meta parent against a hand computation."""
import json
import os
import os.path as osp
import subprocess
import sys

from conftest import REPO

SCRIPT = osp.join(REPO, 'benchmarks', 'collect_table1.py')


def write(folder, rows):
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'meta_test_20260101_000000.json'), 'w') as f:
        json.dump(dict(results=rows), f)


def row(ways, shots, episodes):
    n = len(episodes)
    mean = sum(episodes) / n
    std = (sum((a - mean)**2 for a in episodes) / n)**0.5
    return dict(num_ways=ways, num_shots=shots, num_episodes=n,
                num_queries=15, accuracy_mean=mean, accuracy_std=std,
                accuracy_ci95=1.96 * std / n**0.5,
                episode_accuracies=episodes)


def test_tables_and_paired_differences(tmp_path):
    out = str(tmp_path)
    mtl, maml = [50.0, 60.0, 70.0, 80.0], [40.0, 60.0, 60.0, 90.0]
    write(osp.join(out, 'mtl-maml'), [row(5, 1, mtl)])
    write(osp.join(out, 'maml'), [row(5, 1, maml)])
    write(osp.join(out, 'transfer'), [row(5, 1, [70.0, 70.0, 70.0, 70.0])])
    write(osp.join(out, 'mtl-maml-warm'), [row(5, 1, [80.0, 70.0, 70.0,
                                                      80.0])])
    write(osp.join(out, 'standard', 'maml'), [row(5, 1, maml),
                                              row(5, 5, mtl)])
    write(osp.join(out, 'standard', 'mtl-maml'), [row(5, 1, mtl)])
    subprocess.run([sys.executable, SCRIPT, out], check=True,
                   capture_output=True)
    # differences 10, 0, 10, -10: mean 2.5, population std sqrt(68.75),
    # 95% CI 1.96 * 8.2916 / 2 = 8.13
    with open(osp.join(out, 'table1.md')) as f:
        table = f.read()
    # MTL 65 is below the transfer's 70 (no), +2.5 above MAML's 62.5
    assert ('no (-5.00 vs transfer; +2.50 vs maml; paired vs maml +2.50 +- '
            '8.13)') in table
    # a verdict column per MTL column present, none for the absent Reptile
    header = table.splitlines()[0]
    assert header.endswith('| MTL-MAML >= max(MAML, Transfer) | '
                           'MTL-MAML (warm start) >= max(MAML, Transfer) |')
    assert 'MTL-Reptile' not in header
    # the warm start: 75 above the transfer's 70; differences 40, 10, 10,
    # -10 to MAML: mean 12.5, std sqrt(318.75), CI 1.96 * 17.854 / 2
    assert 'yes (+5.00 vs transfer; +12.50 vs maml; paired vs maml +12.50 ' \
        '+- 17.50)' in table
    with open(osp.join(out, 'standard.md')) as f:
        standard = f.read()
    # ours beside the published MAML numbers (Finn et al.); CIs 1.96 *
    # sqrt(318.75) / 2 and 1.96 * sqrt(125) / 2
    assert '| MAML | 62.50 +- 17.50 | 65.00 +- 10.96 | 48.70 | 63.11 |' in \
        standard
    assert ('mtl-maml - maml, 5-way 1-shot, paired over the same episodes: '
            '+2.50 +- 8.13') in standard
    with open(osp.join(out, 'standard.csv')) as f:
        lines = f.read().splitlines()
    assert lines[0].endswith('published,paired_vs_meta_parent,paired_ci95')
    assert any(line.startswith('mtl-maml,5,1,4,15,65.0000') and
               line.endswith(',2.5000,8.1257') for line in lines)


def test_no_results_is_an_error(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert 'no meta_test_*.json' in result.stderr
