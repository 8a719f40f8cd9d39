"""Gather benchmarks/cross_domain.sh's meta-tests (miniImageNet-trained
models on CUB and Flowers-102 classes) into cross_domain.md / .csv / .png:

- per domain, a row per (model, adapter), a column per (ways, shots) cell:
  mean accuracy +- 95% CI;
- per domain and cell, the best (model, adapter) and its paired difference
  to the runner-up over the shared episodes;
- every adapter's paired difference to the model's own adapter.

Pairs are formed only within a domain and a cell, where the two rows were
meta-tested on the same episodes (seed, queries, episodes and split agree,
``mmmtl.utils.paired_comparison``) and hold per-episode accuracies.

    python benchmarks/collect_cross_domain.py work_dirs/cross_domain

Layout read: OUT/<domain>/<adapter>/<model>/meta_test_*.json (the newest
file per cell wins).
"""
import csv
import glob
import json
import os.path as osp
import sys

from mmmtl.utils.paired_comparison import (SAME_EPISODE_FIELDS,
                                           paired_difference)

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
    """(mean, 95% CI) of the per-episode differences row - other, or None
    where the two were not meta-tested on the same episodes or lack
    per-episode accuracies."""
    if any(row.get(f) != other.get(f) for f in SAME_EPISODE_FIELDS):
        return None
    a, b = row.get('episode_accuracies'), other.get('episode_accuracies')
    if not a or not b or len(a) != len(b):
        return None
    d = paired_difference(a, b)
    return d['paired_diff_mean'], d['paired_diff_ci95']


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


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else 'work_dirs/cross_domain'
    cells = collect(out_dir)
    if not cells:
        sys.exit(f'no meta_test_*.json under {out_dir}/<domain>/<adapter>/'
                 f'<model>/ (domains {list(DOMAINS)}, adapters '
                 f'{list(ADAPTERS)}, models {list(MODELS)})')
    base = osp.join(out_dir, 'cross_domain')
    table = markdown(cells)
    with open(base + '.md', 'w') as f:
        f.write(table + '\n')
    write_csv(cells, base + '.csv')
    plot(cells, base + '.png')
    print(table)
    print(f'written: {base}.md, {base}.csv, {base}.png')


if __name__ == '__main__':
    main()
