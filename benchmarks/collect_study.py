"""Gather the meta-test results of benchmarks/omniglot_mtl_study.sh into one
markdown table: a row per (ways, shots), a column per method, mean accuracy
+- 95% CI.

    python benchmarks/collect_study.py work_dirs/mtl_study
"""
import glob
import json
import os.path as osp
import sys

METHODS = ('transfer', 'maml', 'mtl-maml', 'reptile', 'mtl-reptile')


def latest_results(run_dir):
    files = sorted(glob.glob(osp.join(run_dir, 'meta_test_*.json')))
    if not files:
        return []
    with open(files[-1]) as f:
        return json.load(f)['results']


def collect(out_dir):
    """{(method, ways, shots): result row} over the study's run folders
    (``transfer`` tested at every ways; the others one folder per ways)."""
    cells = {}
    for run_dir in sorted(glob.glob(osp.join(out_dir, '*'))):
        method = osp.basename(run_dir).split('_')[0]
        if method not in METHODS:
            continue
        for row in latest_results(run_dir):
            cells[(method, row['num_ways'], row['num_shots'])] = row
    return cells


def table(cells):
    settings = sorted({(w, s) for _, w, s in cells})
    lines = [
        '| ways | shots | ' + ' | '.join(METHODS) + ' |',
        '|---|---|' + '---|' * len(METHODS)
    ]
    for ways, shots in settings:
        row = []
        for method in METHODS:
            r = cells.get((method, ways, shots))
            row.append(f"{r['accuracy_mean']:.2f} +- {r['accuracy_ci95']:.2f}"
                       if r else '-')
        lines.append(f'| {ways} | {shots} | ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


if __name__ == '__main__':
    out_dir = sys.argv[1] if len(sys.argv) > 1 else 'work_dirs/mtl_study'
    cells = collect(out_dir)
    episodes = {r['num_episodes'] for r in cells.values()}
    print(f'{out_dir}: episodes per cell {sorted(episodes)}, seed 0\n')
    print(table(cells))
    times = osp.join(out_dir, 'train_times.txt')
    if osp.isfile(times):
        with open(times) as f:
            print('\n' + f.read())
