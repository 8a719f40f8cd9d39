"""Gather benchmarks/cub_study.sh's novel-species meta-tests into
cub_study.md / .csv / .png: every model at 5-way 1- and 5-shot (mean +- 95%
CI) beside MMFewShot's published numbers (theirs: the full dataset, 84x84,
GPU), and MTL-MAML's paired differences to MAML and to each other over the
shared episodes.

    python benchmarks/collect_cub_study.py work_dirs/cub_study [--metafiles]

Layout read: OUT/test/<model>/meta_test_*.json (the newest file per cell
wins; benchmarks/collect_cross_domain.py pairs rows the same way) and
OUT/train_times.txt. ``--metafiles`` also writes a model-zoo entry per
trained run into configs/<method>/metafile.yml (benchmarks/
metafile_entries.py; then run tools/misc/gen_model_zoo.py).
"""
import argparse
import csv
import glob
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from collect_cross_domain import cell_text, diff_text, paired  # noqa: E402
from collect_table1 import write_report  # noqa: E402
from metafile_entries import (entry_name, result,  # noqa: E402
                              train_times, write_entries)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# folder -> (title, published 1-shot, 5-shot, whose); published numbers
# from ../shared/data/cub/README.md, the full dataset at 84x84
MODELS = {
    'maml': ('MAML', 60.32, 77.03, 'MMFewShot, Conv4, full CUB, 84x84'),
    'mtl-maml': ('MTL-MAML', None, None, ''),
    'mtl-maml-warm':
    ('MTL-MAML (warm start from a half-budget Baseline)', None, None, ''),
    'protonet': ('ProtoNet', None, None, ''),
    'baseline-plus': ('Baseline++', None, None, ''),
}
# trained run of cub_study.sh -> (tested as, shots tested, config, metafile
# collection, batch, how it was trained)
C = 'configs'
RUNS = {
    'maml-1shot': ('maml', (1, ), 'maml/maml_conv4_1xb4_cub-32px_5way-1shot',
                   'MAML', '4 episodes of 5-way 1-shot', ''),
    'maml-5shot': ('maml', (5, ), 'maml/maml_conv4_1xb4_cub-32px_5way-5shot',
                   'MAML', '4 episodes of 5-way 5-shot', ''),
    'protonet-1shot':
    ('protonet', (1, ), 'protonet/protonet_conv4_1xb1_cub-32px_5way-1shot',
     'ProtoNet', '1 episode of 20-way 1-shot', ''),
    'protonet-5shot':
    ('protonet', (5, ), 'protonet/protonet_conv4_1xb1_cub-32px_5way-5shot',
     'ProtoNet', '1 episode of 20-way 5-shot', ''),
    'baseline-plus':
    ('baseline-plus', (1, 5),
     'transfer/baseline-plus_conv4_1xb128_cub-32px_5way-5shot', 'Baseline',
     '128 images', ''),
    'mtl-maml-1shot':
    ('mtl-maml', (1, ), 'mtl/mtl-maml_conv4_1xb4_cub-32px_5way-1shot', 'MTL',
     '4 episodes of 5-way 1-shot', ''),
    'mtl-maml-5shot':
    ('mtl-maml', (5, ), 'mtl/mtl-maml_conv4_1xb4_cub-32px_5way-5shot', 'MTL',
     '4 episodes of 5-way 5-shot', ''),
    'mtl-maml-warm-1shot':
    ('mtl-maml-warm', (1, ), 'mtl/mtl-maml_conv4_1xb4_cub-32px_5way-1shot',
     'MTL', '4 episodes of 5-way 1-shot', 'warm'),
    'mtl-maml-warm-5shot':
    ('mtl-maml-warm', (5, ), 'mtl/mtl-maml_conv4_1xb4_cub-32px_5way-5shot',
     'MTL', '4 episodes of 5-way 5-shot', 'warm'),
}
# (model, other): paired differences reported
PAIRS = (('mtl-maml', 'maml'), ('mtl-maml-warm', 'maml'), ('mtl-maml-warm',
                                                           'mtl-maml'))
SHOTS = (1, 5)


def collect(out_dir: str) -> dict:
    """{(model, ways, shots): result row}."""
    cells = {}
    for model in MODELS:
        pattern = osp.join(out_dir, 'test', model, 'meta_test_*.json')
        for path in sorted(glob.glob(pattern)):  # newest last
            with open(path) as f:
                for row in json.load(f)['results']:
                    cells[(model, row['num_ways'], row['num_shots'])] = row
    return cells


def markdown(cells) -> str:
    lines = [
        '| model | 5-way 1-shot (ours) | 5-way 5-shot (ours) | published '
        '1-shot | published 5-shot | published by |',
        '|---|---|---|---|---|---|'
    ]
    for model, (title, one, five, whose) in MODELS.items():
        ours = [cells.get((model, 5, s)) for s in SHOTS]
        if not any(ours):
            continue
        published = [f'{v:.2f}' if v is not None else '-' for v in (one, five)]
        lines.append(f'| {title} | {cell_text(ours[0])} | '
                     f'{cell_text(ours[1])} | {published[0]} | '
                     f'{published[1]} | {whose or "-"} |')
    for model, other in PAIRS:
        for shots in SHOTS:
            row, base = cells.get((model, 5, shots)), cells.get(
                (other, 5, shots))
            difference = paired(row, base) if row and base else None
            if difference:
                lines.append(f'\n{model} - {other}, 5-way {shots}-shot, '
                             f'paired over the same episodes: '
                             f'{diff_text(difference)}')
    return '\n'.join(lines)


def write_csv(cells, path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'model', 'ways', 'shots', 'episodes', 'queries', 'seed',
            'accuracy_mean', 'accuracy_ci95', 'accuracy_std', 'published'
        ])
        for (model, ways, shots), row in sorted(cells.items()):
            published = MODELS[model][1 if shots == 1 else 2]
            writer.writerow([
                model, ways, shots, row['num_episodes'],
                row.get('num_queries', ''),
                row.get('seed', ''), f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}",
                published if published is not None and ways == 5 else ''
            ])


def plot(cells, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    models = [m for m in MODELS if any(k[0] == m for k in cells)]
    for offset, shots in ((-0.18, 1), (0.18, 5)):
        points = [(i, cells[(m, 5, shots)]) for i, m in enumerate(models)
                  if (m, 5, shots) in cells]
        ax.bar([i + offset for i, _ in points],
               [r['accuracy_mean'] for _, r in points],
               width=0.36,
               yerr=[r['accuracy_ci95'] for _, r in points],
               capsize=3,
               label=f'5-way {shots}-shot')
    ax.set_xticks(range(len(models)), models, rotation=20, fontsize=8)
    ax.set_ylabel('accuracy (%), 95% CI')
    ax.set_title('CUB subset (100 species), novel species, 32x32', fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis='y')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metafile_entries(cells, out_dir: str) -> dict:
    """{metafile path: [entries]}: one per trained run with its novel-species
    results."""
    times = train_times(out_dir)
    entries = {}
    for run, (model, shots, config, collection, batch, how) in RUNS.items():
        rows = [cells[(model, 5, s)] for s in shots if (model, 5, s) in cells]
        if not rows or run not in times:
            continue
        iters, budget, wall = times[run]
        warm = (f'; from the backbone of a Baseline trained on the same base '
                f'species for {times["baseline-half"][1]} '
                '(baseline_conv4_1xb128_cub-32px_5way-5shot.py, the recipe '
                'of docs/cross_domain.md), ' if how else '; ')
        name = entry_name(config, times, run,
                          'baseline-half' if how else None)
        entries.setdefault(
            osp.join(ROOT, C, osp.dirname(config), 'metafile.yml'), []
        ).append({
            'Name': name,
            'In Collection': collection,
            'Config': f'{C}/{config}.py',
            'Metadata': {
                'Training Data':
                'real CUB-200-2011 subset (100 of the 200 species, '
                '../shared/data/cub), the 44 base species of the '
                'class-number split, 32x32 (a reduction of the published '
                '84x84)',
                'Training Budget':
                f'{budget} of training iterations (--time-budget '
                '--fit-schedule --budget-clock cpu)' + warm +
                'the best of its validations on 100 episodes of the 28 val '
                "species; meta-test adapter the model's own" +
                ("; trained before session 12's channels-last and bfloat16 "
                 'batch steps (docs/speed.md), with which the same budget '
                 'fits more iterations'
                 if collection in ('Baseline', 'ProtoNet') else ''),
                'Iterations': iters,
                'Batch Size': batch,
                'Training Time':
                f'{wall} s wall with validation, beside another job',
                'Training Resources': 'one thread of a 2-core CPU',
            },
            'Results': [result('CUB', row) for row in rows],
            'Command':
            'bash benchmarks/cub_study.sh\n'
            f'python benchmarks/collect_cub_study.py {out_dir} --metafiles\n',
            'Source': 'docs/cross_domain.md',
        })
    return entries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', nargs='?', default='work_dirs/cub_study')
    parser.add_argument('--metafiles', action='store_true',
                        help='write the model-zoo entries')
    args = parser.parse_args()
    out_dir = args.out_dir
    cells = collect(out_dir)
    if not cells:
        raise SystemExit(f'no meta_test_*.json under {out_dir}/test/<model>/ '
                         f'(models {list(MODELS)})')
    written = write_report(osp.join(out_dir, 'cub_study'), markdown(cells),
                           cells, write_csv, plot)
    times = osp.join(out_dir, 'train_times.txt')
    if osp.isfile(times):
        with open(times) as f:
            print('\n' + f.read())
    print(f'written: {", ".join(written)}')
    if args.metafiles:
        for path, entries in metafile_entries(cells, out_dir).items():
            names = write_entries(path, entries)
            print(f'{osp.relpath(path, ROOT)}: {", ".join(names)}')


if __name__ == '__main__':
    main()
