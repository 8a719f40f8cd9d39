"""Gather benchmarks/cross_domain.sh's meta-tests (miniImageNet-trained
models on CUB and Flowers-102 classes) into cross_domain.md / .csv / .png:

- per domain, a row per (model, adapter), a column per (ways, shots) cell:
  mean accuracy +- 95% CI;
- per domain and cell, the best (model, adapter) and its paired difference
  to the runner-up over the shared episodes;
- every adapter's paired difference to the model's own adapter.

Pairs are formed only within a domain and a cell, over the episodes the two
rows share (seed, queries and split agree: the first min(E1, E2) episodes,
``mmmtl.utils.paired_comparison.paired_rows``), from their per-episode
accuracies.

    python benchmarks/collect_cross_domain.py work_dirs/cross_domain \
        [--metafiles work_dirs/mini_table1]

Layout read: OUT/<domain>/<adapter>/<model>/meta_test_*.json (the newest
file per cell wins). ``--metafiles TABLE1_DIR`` also writes each model's
cross-domain results with its own adapter into the model zoo
(configs/<method>/metafile.yml, benchmarks/metafile_entries.py): the
Baseline's into the default model's entry (the same checkpoint), the
others' as entries of their own, with the training record of
TABLE1_DIR/train_times.txt; then run tools/misc/gen_model_zoo.py.
"""
import argparse
import copy
import csv
import glob
import json
import os.path as osp
import sys

import yaml

from mmmtl.utils.paired_comparison import paired_rows

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from collect_table1 import write_report  # noqa: E402
from metafile_entries import (entry_name, result, train_times,  # noqa
                              write_entries)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

DOMAINS = {
    'cub':
    'CUB-200-2011, every species present (100 on the subset of '
    '../shared/data/cub) as test classes',
    'flowers102':
    'Oxford Flowers-102, all 102 classes as test classes '
    '(our split)',
}
ADAPTERS = {
    'own': "own adapter",
    'centroid': 'cosine centroid',
    'linear': 'linear head',
}
# folder -> title (the models of benchmarks/mini_imagenet_table1.sh)
MODELS = {
    'transfer': 'Baseline',
    'baseline-plus': 'Baseline++',
    'protonet': 'ProtoNet',
    'reptile': 'Reptile',
    'mtl-reptile': 'MTL-Reptile',
    'maml': 'MAML',
    'mtl-maml': 'MTL-MAML',
    'mtl-maml-warm': 'MTL-MAML (warm start)',
    'mtl-ss': "Sun et al.'s MTL (scaling and shifting)",
}


# model -> (config under configs/ without .py, metafile collection, batch)
CONFIGS = {
    'transfer': ('transfer/baseline_conv4_1xb128_mini-imagenet-32px_5way-5shot',
                 'Baseline', '128 images'),
    'protonet': ('protonet/protonet_conv4_1xb1_mini-imagenet-32px_5way-5shot',
                 'ProtoNet', '1 episode of 20-way 5-shot'),
    'reptile': ('reptile/reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot',
                'Reptile', '5 episodes of 5-way 5-shot'),
    'mtl-reptile': ('mtl/mtl-reptile_conv4_1xb5_mini-imagenet-32px_5way-5shot',
                    'MTL', '5 episodes of 5-way 5-shot'),
    'maml': ('maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot', 'MAML',
             '4 episodes of 5-way 5-shot'),
    'mtl-maml': ('mtl/mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot',
                 'MTL', '4 episodes of 5-way 5-shot'),
    'mtl-maml-warm': ('mtl/mtl-maml_conv4_1xb4_mini-imagenet-32px_5way-5shot',
                      'MTL', '4 episodes of 5-way 5-shot'),
}
DEFAULT_MODEL = 'baseline_conv4_1xb128_mini-imagenet-32px_default'
DATASET_NAMES = {'cub': 'CUB', 'flowers102': 'Flowers-102'}


def collect(out_dir: str) -> dict:
    """{(domain, adapter, model, ways, shots): result row}."""
    cells = {}
    for domain in DOMAINS:
        for adapter in ADAPTERS:
            for model in MODELS:
                pattern = osp.join(out_dir, domain, adapter, model,
                                   'meta_test_*.json')
                for path in sorted(glob.glob(pattern)):  # newest last
                    with open(path) as f:
                        for row in json.load(f)['results']:
                            key = (domain, adapter, model, row['num_ways'],
                                   row['num_shots'])
                            cells[key] = row
    return cells


def paired(row, other):
    """(mean, 95% CI) of the per-episode differences row - other over the
    episodes both were meta-tested on, or None where they share none
    (``mmmtl.utils.paired_comparison.paired_rows``)."""
    found = paired_rows(row, other)
    return found[:2] if found else None


def cell_text(row) -> str:
    return (f"{row['accuracy_mean']:.2f} +- {row['accuracy_ci95']:.2f}"
            if row else '-')


def diff_text(difference) -> str:
    return (f'{difference[0]:+.2f} +- {difference[1]:.2f}'
            if difference else '-')


def settings_of(cells, domain):
    return sorted({(w, s) for d, _, _, w, s in cells if d == domain})


def pairs_of(cells, domain):
    """(adapter, model) combinations with a result on ``domain``."""
    return [(a, m) for m in MODELS for a in ADAPTERS
            if any(k[:3] == (domain, a, m) for k in cells)]


def domain_markdown(cells, domain) -> str:
    settings = settings_of(cells, domain)
    header = ' | '.join(f'{w}-way {s}-shot' for w, s in settings)
    lines = [
        f'### {DOMAINS[domain]}', '', f'| model | adapter | {header} |',
        '|---|---|' + '---|' * len(settings)
    ]
    for adapter, model in pairs_of(cells, domain):
        values = ' | '.join(
            cell_text(cells.get((domain, adapter, model, w, s)))
            for w, s in settings)
        lines.append(f'| {MODELS[model]} | {ADAPTERS[adapter]} | {values} |')
    lines += [
        '', 'Best per cell, paired difference to the runner-up over '
        'the same episodes:', ''
    ]
    for w, s in settings:
        ranked = sorted(((row['accuracy_mean'], a, m)
                         for (d, a, m, ww, ss), row in cells.items()
                         if (d, ww, ss) == (domain, w, s)),
                        reverse=True)
        (_, a, m), rest = ranked[0], ranked[1:]
        text = f'- {w}-way {s}-shot: {MODELS[m]} ({ADAPTERS[a]})'
        if rest:
            _, a2, m2 = rest[0]
            difference = paired(cells[(domain, a, m, w, s)],
                                cells[(domain, a2, m2, w, s)])
            text += (f', {diff_text(difference)} vs {MODELS[m2]} '
                     f'({ADAPTERS[a2]})')
        lines.append(text)
    others = [(a, m) for a, m in pairs_of(cells, domain)
              if a != 'own' and any(k[:3] == (domain, 'own', m)
                                    for k in cells)]
    if others:
        lines += [
            '', "Paired difference to the model's own adapter:", '',
            f'| model | adapter | {header} |',
            '|---|---|' + '---|' * len(settings)
        ]
        for adapter, model in others:
            lines.append(
                f'| {MODELS[model]} | {ADAPTERS[adapter]} - own | ' +
                ' | '.join(
                    diff_text(
                        own_difference(cells, domain, adapter, model, w, s))
                    for w, s in settings) + ' |')
    return '\n'.join(lines)


def own_difference(cells, domain, adapter, model, ways, shots):
    row = cells.get((domain, adapter, model, ways, shots))
    own = cells.get((domain, 'own', model, ways, shots))
    return paired(row, own) if row and own and adapter != 'own' else None


def markdown(cells) -> str:
    domains = [d for d in DOMAINS if any(k[0] == d for k in cells)]
    return '\n\n'.join(domain_markdown(cells, d) for d in domains)


def write_csv(cells, path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'domain', 'model', 'adapter', 'ways', 'shots', 'episodes',
            'queries', 'seed', 'accuracy_mean', 'accuracy_ci95',
            'accuracy_std', 'paired_vs_own', 'paired_vs_own_ci95'
        ])
        for (domain, adapter, model, ways,
             shots), row in sorted(cells.items()):
            d = own_difference(cells, domain, adapter, model, ways, shots)
            writer.writerow([
                domain, model, adapter, ways, shots, row['num_episodes'],
                row.get('num_queries', ''),
                row.get('seed', ''), f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}",
                f'{d[0]:.4f}' if d else '', f'{d[1]:.4f}' if d else ''
            ])


def plot(cells, path: str) -> None:
    """A panel per (domain, adapter): accuracy of each model per cell."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = sorted({(d, a)
                     for d, a, _, _, _ in cells},
                    key=lambda p:
                    (list(DOMAINS).index(p[0]), list(ADAPTERS).index(p[1])))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    for ax, (domain, adapter) in zip(axes[0], panels):
        settings = settings_of(cells, domain)
        labels = [f'{w}w{s}s' for w, s in settings]
        for model, title in MODELS.items():
            points = [(i, cells[(domain, adapter, model, w, s)])
                      for i, (w, s) in enumerate(settings)
                      if (domain, adapter, model, w, s) in cells]
            if points:
                ax.errorbar([i for i, _ in points],
                            [r['accuracy_mean'] for _, r in points],
                            yerr=[r['accuracy_ci95'] for _, r in points],
                            marker='o',
                            capsize=3,
                            label=title)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(f'{domain}, {ADAPTERS[adapter]}', fontsize=9)
        ax.set_ylabel('accuracy (%), 95% CI')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metafile_entries(cells, out_dir: str, table1: str) -> dict:
    """{metafile path: [entries]}: each model's cross-domain results with its
    own adapter (the default model's entry updated in place)."""
    times = train_times(table1)
    command = ('bash benchmarks/cross_domain.sh ' + table1 + '\n'
               f'python benchmarks/collect_cross_domain.py {out_dir} '
               f'--metafiles {table1}\n')
    entries = {}
    for model, (config, collection, batch) in CONFIGS.items():
        rows = [(DATASET_NAMES[d], cells[k]) for d in DOMAINS
                for k in sorted(cells) if k[:3] == (d, 'own', model)]
        if not rows:
            continue
        results = [result(dataset, row) for dataset, row in rows]
        path = osp.join(ROOT, 'configs', osp.dirname(config), 'metafile.yml')
        if model == 'transfer':
            entry = copy.deepcopy(existing_entry(path, DEFAULT_MODEL))
            entry['Results'] = [
                r for r in entry['Results']
                if r['Dataset'] not in DATASET_NAMES.values()] + results
            entry['Command'] = ''.join(
                line for line in entry['Command'].splitlines(True)
                if 'cross_domain' not in line) + command
        elif model in times:
            iters, budget, wall = times[model]
            warm = ('from the backbone of the study\'s Baseline trained for '
                    f'{times["transfer-half"][1]}, then ' if model.endswith(
                        'warm') and 'transfer-half' in times else '')
            entry = {
                'Name': entry_name(config, times, model,
                                   'transfer-half' if warm else None)
                + '_cross-domain',
                'In Collection': collection,
                'Config': f'configs/{config}.py',
                'Metadata': {
                    'Training Data':
                    'real miniImageNet, Ravi split, the 64 train classes, '
                    '32x32 (the reduced CPU protocol); tested on the classes '
                    'of other domains',
                    'Training Budget':
                    f'the {MODELS[model]} of the session-11 Table-1 / '
                    f'adapter study (docs/mtl.md, its miniImageNet results): '
                    f'{warm}{budget} of training iterations (--time-budget '
                    '--fit-schedule --budget-clock cpu), the best of its '
                    "validations; meta-test adapter the model's own"
                    + ("; trained before session 12's channels-last and "
                       'bfloat16 batch steps (docs/speed.md), with which '
                       'the same budget fits more iterations'
                       if model == 'protonet' else ''),
                    'Iterations': iters,
                    'Batch Size': batch,
                    'Training Time':
                    f'{wall} s wall with validation, beside another job',
                    'Training Resources': 'one thread of a 2-core CPU',
                },
                'Results': results,
                'Command': 'bash benchmarks/mini_imagenet_table1.sh '
                'table1-train\n' + command,
                'Source': 'docs/cross_domain.md',
            }
        else:
            continue
        entries.setdefault(path, []).append(entry)
    return entries


def existing_entry(path: str, name: str) -> dict:
    with open(path) as f:
        models = yaml.safe_load(f)['Models']
    for entry in models:
        if entry['Name'] == name:
            return entry
    raise KeyError(f'{path}: no model entry {name!r}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', nargs='?',
                        default='work_dirs/cross_domain')
    parser.add_argument('--metafiles', metavar='TABLE1_DIR',
                        help='write the model-zoo entries, with the training '
                        'record of this table1 work dir')
    args = parser.parse_args()
    out_dir = args.out_dir
    cells = collect(out_dir)
    if not cells:
        raise SystemExit(f'no meta_test_*.json under {out_dir}/<domain>/<adapter>/'
                 f'<model>/ (domains {list(DOMAINS)}, adapters '
                 f'{list(ADAPTERS)}, models {list(MODELS)})')
    written = write_report(osp.join(out_dir, 'cross_domain'),
                           markdown(cells), cells, write_csv, plot)
    print(f'written: {", ".join(written)}')
    if args.metafiles:
        for path, entries in metafile_entries(cells, out_dir,
                                              args.metafiles).items():
            names = write_entries(path, entries)
            print(f'{osp.relpath(path, ROOT)}: {", ".join(names)}')


if __name__ == '__main__':
    main()
