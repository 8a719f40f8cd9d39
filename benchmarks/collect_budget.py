"""Gather the budget study of docs/mtl.md (``benchmarks/
mini_imagenet_table1.sh budget``): the same models trained for several
budgets or resolutions (a work dir each), meta-tested on the Table-1 cells
with their own adapter and others, into budget.md / .csv / .png:

- what each run trained (iterations, budget, wall time);
- accuracy per adapter, a column per (model, run);
- each model's paired gain from one run to the next (same adapter, the
  episodes both share);
- the ordering of the models in each run and cell, and the paired
  differences that decide it (MTL-MAML and its warm start against MAML and
  Transfer, Transfer against MAML).

    python benchmarks/collect_budget.py 10min=work_dirs/mini_budget10 \\
        30min=work_dirs/mini_budget30 [84px-30min=work_dirs/mini_84px] \\
        [--out work_dirs/budget] [--metafiles]

Each ``LABEL=DIR`` is a run of the study (``mini_imagenet_table1.sh``'s
layout: DIR/<model>[@adapter]/meta_test_*.json, DIR/train_times.txt); runs
are compared in the order given. ``--metafiles`` writes a model-zoo entry
per trained model with its own adapter's Table-1 results
(benchmarks/metafile_entries.py; then run tools/misc/gen_model_zoo.py).
"""
import argparse
import csv
import glob
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from collect_adapters import ADAPTERS, gather  # noqa: E402
from collect_cross_domain import cell_text  # noqa: E402
from collect_table1 import write_report  # noqa: E402
from mmmtl.utils.paired_comparison import paired_rows  # noqa: E402
from metafile_entries import (entry_name, result, run_minutes,  # noqa: E402
                              train_times, write_entries)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# folder -> (title, short title, metafile collection, batch)
MODELS = {
    'transfer': ('Transfer', 'T', 'Baseline', '128 images'),
    'maml': ('MAML', 'M', 'MAML', '4 episodes of 5-way 5-shot'),
    'mtl-maml': ('MTL-MAML', 'MM', 'MTL', '4 episodes of 5-way 5-shot'),
    'mtl-maml-warm': ('MTL-MAML (warm start)', 'W', 'MTL',
                      '4 episodes of 5-way 5-shot'),
}
# the run a warm start began from (its minutes count in the model's)
WARM_FROM = {'mtl-maml-warm': 'transfer-half'}
# (model, other): the paired differences that decide the ordering
COMPARISONS = (('mtl-maml', 'maml'), ('mtl-maml-warm', 'maml'),
               ('mtl-maml-warm', 'transfer'), ('transfer', 'maml'))


def collect(runs) -> dict:
    """{(run label, model, adapter suffix, ways, shots): result row}."""
    cells = {}
    for label, out_dir in runs:
        for (model, adapter, ways, shots), row in gather(out_dir).items():
            if model in MODELS:
                cells[(label, model, adapter, ways, shots)] = row
    return cells


def present(cells, index):
    """The values at ``index`` of the cells' keys, in first-seen order."""
    return list(dict.fromkeys(key[index] for key in cells))


def training_markdown(runs) -> str:
    lines = ['| run | model | iterations | budget | wall time (s, with '
             'validation) |', '|---|---|---|---|---|']
    for label, out_dir in runs:
        times = train_times(out_dir)
        for model in MODELS:
            parts = [model] + ([WARM_FROM[model]] if model in WARM_FROM
                               and WARM_FROM[model] in times else [])
            if model not in times:
                continue
            lines.append(f'| {label} | {MODELS[model][0]} | ' + ' + '.join(
                str(times[p][0]) for p in reversed(parts)) + ' | ' +
                         ' + '.join(times[p][1] for p in reversed(parts)) +
                         ' | ' + ' + '.join(
                             str(times[p][2]) for p in reversed(parts)) +
                         ' |')
    return '\n'.join(lines)


def accuracy_markdown(cells, adapter) -> str:
    columns = [(label, model) for label in present(cells, 0)
               for model in MODELS if any(
                   k[:3] == (label, model, adapter) for k in cells)]
    settings = sorted({k[3:] for k in cells if k[2] == adapter})
    lines = ['| ways | shots | ' + ' | '.join(
        f'{MODELS[m][0]}, {label}' for label, m in columns) + ' |',
        '|---|---|' + '---|' * len(columns)]
    for ways, shots in settings:
        lines.append(f'| {ways} | {shots} | ' + ' | '.join(
            cell_text(cells.get((label, m, adapter, ways, shots)))
            for label, m in columns) + ' |')
    return '\n'.join(lines)


def difference(a, b) -> str:
    """The paired difference a - b ('+d +- ci', * where the CI excludes 0,
    the episodes paired where fewer than a's), or '-'."""
    found = paired_rows(a, b) if a and b else None
    if found is None:
        return '-'
    mean, ci, shared = found
    return (f"{mean:+.2f} +- {ci:.2f}{'*' if abs(mean) > ci else ''}" +
            (f' ({shared} ep.)' if shared < a['num_episodes'] else ''))


def gain_markdown(cells, adapter) -> str:
    """Each model's paired gain from every run to the next."""
    labels = present(cells, 0)
    steps = list(zip(labels, labels[1:]))
    columns = [(m, before, after) for before, after in steps
               for m in MODELS
               if any(k[1:3] == (m, adapter) and k[0] == before
                      for k in cells)
               and any(k[1:3] == (m, adapter) and k[0] == after
                       for k in cells)]
    settings = sorted({k[3:] for k in cells if k[2] == adapter})
    lines = ['| ways | shots | ' + ' | '.join(
        f'{MODELS[m][0]}: {after} - {before}' for m, before, after in columns)
        + ' |', '|---|---|' + '---|' * len(columns)]
    for ways, shots in settings:
        lines.append(f'| {ways} | {shots} | ' + ' | '.join(
            difference(cells.get((after, m, adapter, ways, shots)),
                       cells.get((before, m, adapter, ways, shots)))
            for m, before, after in columns) + ' |')
    return '\n'.join(lines)


def ordering(cells, label, adapter, ways, shots) -> str:
    """The models by mean accuracy, e.g. 'T > W > M > MM'."""
    rows = {m: cells[(label, m, adapter, ways, shots)] for m in MODELS
            if (label, m, adapter, ways, shots) in cells}
    ranked = sorted(rows, key=lambda m: -rows[m]['accuracy_mean'])
    return ' > '.join(MODELS[m][1] for m in ranked) or '-'


def ordering_markdown(cells, adapter) -> str:
    labels = [label for label in present(cells, 0)
              if any(k[:1] == (label, ) and k[2] == adapter for k in cells)]
    settings = sorted({k[3:] for k in cells if k[2] == adapter})
    comparisons = [(a, b) for a, b in COMPARISONS
                   if any(k[1:3] == (a, adapter) for k in cells)
                   and any(k[1:3] == (b, adapter) for k in cells)]
    lines = ['| ways | shots | run | ordering | ' + ' | '.join(
        f'{MODELS[a][0]} - {MODELS[b][0]}' for a, b in comparisons) + ' |',
        '|---|---|---|---|' + '---|' * len(comparisons)]
    for ways, shots in settings:
        for label in labels:
            lines.append(
                f'| {ways} | {shots} | {label} | '
                f'{ordering(cells, label, adapter, ways, shots)} | ' +
                ' | '.join(
                    difference(cells.get((label, a, adapter, ways, shots)),
                               cells.get((label, b, adapter, ways, shots)))
                    for a, b in comparisons) + ' |')
    return '\n'.join(lines)


def markdown(cells, runs) -> str:
    adapters = [a for a in ADAPTERS if any(k[2] == a for k in cells)]
    key = ', '.join(f'{short} {title}'
                    for title, short, _, _ in MODELS.values())
    parts = ['Training:', '', training_markdown(runs)]
    for adapter in adapters:
        name = ADAPTERS[adapter]
        parts += [
            '', f'Accuracy, adapter: {name} (mean +- 95% CI):', '',
            accuracy_markdown(cells, adapter), '',
            f'Gain from one run to the next, adapter: {name} (paired, '
            'points, 95% CI; * where the CI excludes 0):', '',
            gain_markdown(cells, adapter), '',
            f'Ordering by mean, adapter: {name} ({key}), and the paired '
            'differences that decide it:', '',
            ordering_markdown(cells, adapter)
        ]
    return '\n'.join(parts)


def write_csv(cells, path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'model', 'adapter', 'ways', 'shots',
                         'episodes', 'accuracy_mean', 'accuracy_ci95',
                         'accuracy_std'])
        for (label, model, adapter, ways, shots), row in cells.items():
            writer.writerow([
                label, model, ADAPTERS[adapter], ways, shots,
                row['num_episodes'], f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}"
            ])


def plot(cells, path: str) -> None:
    """A panel per adapter: accuracy per cell, a colour per model, a line
    style per run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    adapters = [a for a in ADAPTERS if any(k[2] == a for k in cells)]
    labels = present(cells, 0)
    styles = ['--', '-', ':', '-.']
    fig, axes = plt.subplots(1, len(adapters), figsize=(5 * len(adapters),
                                                         4), squeeze=False)
    for ax, adapter in zip(axes[0], adapters):
        settings = sorted({k[3:] for k in cells if k[2] == adapter})
        for colour, model in enumerate(MODELS):
            for i, label in enumerate(labels):
                rows = [cells.get((label, model, adapter, w, s))
                        for w, s in settings]
                if not any(rows):
                    continue
                ax.errorbar(
                    range(len(settings)),
                    [r['accuracy_mean'] if r else float('nan') for r in rows],
                    yerr=[r['accuracy_ci95'] if r else 0 for r in rows],
                    color=f'C{colour}', linestyle=styles[i % len(styles)],
                    marker='o', markersize=3, capsize=2,
                    label=f'{MODELS[model][0]}, {label}')
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels([f'{w}w{s}s' for w, s in settings], rotation=45,
                           fontsize=7)
        ax.set_title(f'adapter: {ADAPTERS[adapter]}')
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel('accuracy (%), 95% CI')
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def config_of(out_dir: str, model: str) -> str:
    """The config a run's model was trained with (the copy mmengine dumps
    into its work dir), as configs/<method>/<name>.py."""
    found = sorted(glob.glob(osp.join(out_dir, model, '*.py')))
    if not found:
        raise FileNotFoundError(f'{out_dir}/{model}: no dumped config (*.py)')
    name = osp.basename(found[0])
    matches = glob.glob(osp.join(ROOT, 'configs', '*', name))
    if len(matches) != 1:
        raise FileNotFoundError(f'{out_dir}/{model}/{name}: {len(matches)} '
                                'configs of that name under configs/')
    return osp.relpath(matches[0], ROOT)


def command(out_dir: str, model: str, minutes: float, config: str,
            rows) -> str:
    """The study command that trains and meta-tests ``model`` as it was."""
    env = [f'OUT={out_dir}', f'BUDGET={minutes:g}']
    if '32px' not in config:
        env.append('RES=84')
    episodes = {r['num_shots'] == 100: r['num_episodes'] for r in rows}
    if episodes.get(False, 600) != 600:
        env.append(f'EPISODES={episodes[False]}')
    if episodes.get(True, 100) != 100:
        env.append(f'EPISODES_100={episodes[True]}')
    return (' '.join(env) + ' bash benchmarks/mini_imagenet_table1.sh '
            f'budget {model}\n')


def metafile_entries(cells, runs, collector: str) -> dict:
    """{metafile path: [entries]}: a model of a run with its own adapter's
    Table-1 results."""
    entries = {}
    for label, out_dir in runs:
        times = train_times(out_dir)
        for model, (title, _, collection, batch) in MODELS.items():
            rows = [cells[k] for k in sorted(cells)
                    if k[:3] == (label, model, '')]
            if not rows or model not in times:
                continue
            warm = WARM_FROM.get(model) if WARM_FROM.get(model) in times \
                else None
            config = config_of(out_dir, model)
            minutes, clock = run_minutes(times, model, warm)
            resolution = ('32x32 (the reduced CPU protocol of configs/_base_/'
                          'datasets/mini_imagenet_32px.py)'
                          if '32px' in config else '84x84, as published')
            entry = {
                'Name': entry_name(config, times, model, warm) + '_table1',
                'In Collection': collection,
                'Config': config,
                'Metadata': {
                    'Training Data':
                    'real miniImageNet, Ravi split, the 64 train classes, '
                    + resolution,
                    'Training Budget':
                    f'{minutes:g} {clock} min of training iterations '
                    '(--time-budget --fit-schedule --budget-clock cpu)' +
                    (f', the first {times[warm][1]} a Baseline whose '
                     'backbone it starts from' if warm else '') +
                    '; the best of its validations (5-way 5-shot, 100 val '
                    f"episodes); meta-test adapter the model's own; the "
                    f'{label} run of the budget study (docs/mtl.md)',
                    'Iterations': times[model][0],
                    'Batch Size': batch,
                    'Training Time':
                    f'{times[model][2]} s wall with validation, beside '
                    'another job',
                    'Training Resources': 'one thread of a 2-core CPU',
                },
                'Results': [result('miniImageNet', row) for row in rows],
                'Command': command(out_dir, model, minutes, config, rows)
                + collector,
                'Source': 'docs/mtl.md',
            }
            entries.setdefault(
                osp.join(ROOT, osp.dirname(config), 'metafile.yml'),
                []).append(entry)
    return entries


def parse_run(text: str):
    label, sep, out_dir = text.partition('=')
    if not sep or not label or not out_dir:
        raise argparse.ArgumentTypeError(
            f'{text!r}: a run is LABEL=DIR (e.g. 30min=work_dirs/mini_budget30)')
    if not osp.isdir(out_dir):
        raise argparse.ArgumentTypeError(f'{text!r}: {out_dir} is not a '
                                         'directory')
    return label, out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', type=parse_run,
                        metavar='LABEL=DIR')
    parser.add_argument('--out', default='work_dirs/budget',
                        help='where budget.md / .csv / .png go')
    parser.add_argument('--metafiles', action='store_true',
                        help='write the model-zoo entries')
    args = parser.parse_args()
    cells = collect(args.runs)
    if not cells:
        raise SystemExit('no meta_test_*.json under DIR/<model>[@adapter]/ '
                         f'of any run (models {list(MODELS)})')
    os.makedirs(args.out, exist_ok=True)
    written = write_report(osp.join(args.out, 'budget'),
                           markdown(cells, args.runs), cells, write_csv, plot)
    print(f'written: {", ".join(written)}')
    if args.metafiles:
        collector = ('python benchmarks/collect_budget.py ' + ' '.join(
            f'{label}={out_dir}' for label, out_dir in args.runs) +
                     ' --metafiles\n')
        for path, entries in metafile_entries(cells, args.runs,
                                              collector).items():
            names = write_entries(path, entries)
            print(f'{osp.relpath(path, ROOT)}: {", ".join(names)}')


if __name__ == '__main__':
    main()
