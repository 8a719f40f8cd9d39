"""Gather benchmarks/mini_imagenet_table1.sh's meta-test results:

- Eshratifar et al.'s Table 1 shape (36 unseen classes): a row per (ways,
  shots), a column per method (mean accuracy +- 95% CI), the paper's number
  beside ours, whether MTL reaches the better of its two parents, and MTL's
  paired difference to its meta parent on the shared episodes; markdown
  (table1.md), CSV and a PNG (accuracy vs shots, a panel per ways);
- the standard test split, 5-way 1- and 5-shot, every method beside the
  published numbers (standard.md / .csv);
- the MTL variants on validation episodes (variants.md).

    python benchmarks/collect_table1.py work_dirs/mini_table1
"""
import csv
import glob
import json
import os.path as osp
import sys

from mmmtl.utils.paired_comparison import paired_rows

# folder name -> column title
METHODS = {
    'transfer-linear': 'Transfer (linear SGD head)',
    'transfer': 'Transfer (cosine centroid head)',
    'protonet': 'ProtoNet',
    'reptile': 'Reptile',
    'mtl-reptile': 'MTL-Reptile',
    'maml': 'MAML',
    'mtl-maml': 'MTL-MAML',
    # the MTL-MAML variant chosen on val episodes (variants.md)
    'mtl-maml-warm': 'MTL-MAML (warm start)',
}
# Eshratifar et al., Table 1 (miniImageNet 84x84, their numbers, no CIs):
# (ways, shots) -> Transfer, ProtoNet, Reptile, MTL-Reptile, MAML, MTL-MAML
PAPER = {
    (5, 1): (37.44, 49.42, 49.16, 51.04, 48.70, 50.99),
    (5, 5): (53.28, 68.20, 65.99, 69.58, 63.11, 67.88),
    (5, 100): (90.23, 61.13, 83.75, 96.56, 82.53, 92.44),
    (20, 1): (15.06, 21.54, 20.29, 22.27, 20.50, 22.34),
    (20, 5): (27.33, 34.68, 31.46, 36.45, 31.50, 35.95),
    (20, 100): (73.56, 56.76, 68.59, 74.00, 68.55, 74.87),
    (35, 1): (10.49, 10.67, 9.85, 13.60, 9.61, 14.11),
    (35, 5): (20.04, 17.53, 16.46, 21.59, 16.01, 21.85),
    (35, 100): (61.72, 38.13, 51.09, 68.10, 50.21, 66.34),
}
PAPER_COLUMNS = ('transfer-linear', 'protonet', 'reptile', 'mtl-reptile',
                 'maml', 'mtl-maml')
# MTL column -> (its meta parent, the transfer columns)
PARENTS = {
    'mtl-maml': 'maml',
    'mtl-reptile': 'reptile',
    'mtl-maml-warm': 'maml',
}
TRANSFERS = ('transfer-linear', 'transfer')

# the standard test split: folder -> (title, published 1-shot, 5-shot, whose)
STANDARD = {
    'transfer-linear': ('Baseline (linear SGD test head)', 46.06, 65.83,
                        "MMFewShot's Baseline, Conv4"),
    'transfer': ('Baseline (cosine centroid test head)', None, None, ''),
    'baseline-plus': ('Baseline++', 48.24, 66.43, 'Chen et al. 2019, Conv4'),
    'protonet': ('ProtoNet', 49.42, 68.20, 'Snell et al. 2017, Conv4'),
    'maml': ('MAML', 48.70, 63.11,
             'Finn et al. 2017, Conv4-32; MMFewShot 46.76 / 63.88'),
    'mtl-maml': ('MTL-MAML', None, None, ''),
    'mtl-maml-warm': ('MTL-MAML (warm start, chosen on val)', None, None,
                      ''),
    'reptile': ('Reptile', 47.07, 62.74, 'Nichol et al. 2018, Conv4-32'),
    'mtl-reptile': ('MTL-Reptile', None, None, ''),
    'mtl-ss': ("Sun et al.'s MTL (scaling and shifting)", 60.2, 74.3,
               'Sun et al. 2019, ResNet12 pretrained on 64 classes'),
}
# the validation comparison of the MTL variants
VARIANTS = {
    'mtl-maml': 'MTL-MAML (beta 0.1, the study\'s)',
    'mtl-maml-beta0.5': 'MTL-MAML, beta 0.5',
    'mtl-maml-warm': 'MTL-MAML warm-started from a half-budget Baseline',
    'maml': 'MAML',
    'transfer': 'Baseline (cosine centroid head)',
}


def paired(row, other):
    """Mean paired difference row - other over the episodes both were
    meta-tested on, and its 95% CI (``mmmtl.utils.paired_comparison.
    paired_rows``), or None where they share none."""
    found = paired_rows(row, other)
    return found[:2] if found else None


def collect(out_dir: str, methods=METHODS) -> dict:
    """{(method, ways, shots): result row}, the newest file per cell."""
    cells = {}
    for method in methods:
        files = sorted(glob.glob(osp.join(out_dir, method,
                                          'meta_test_*.json')))
        for path in files:  # oldest first: newer results overwrite
            with open(path) as f:
                for row in json.load(f)['results']:
                    cells[(method, row['num_ways'], row['num_shots'])] = row
    return cells


def write_report(base: str, table: str, cells, write_csv, plot) -> list:
    """A collector's BASE.md (the markdown ``table``), .csv and .png (by
    its ``write_csv`` / ``plot`` of ``cells``); prints the table and
    returns the paths."""
    with open(base + '.md', 'w') as f:
        f.write(table + '\n')
    write_csv(cells, base + '.csv')
    plot(cells, base + '.png')
    print(table)
    return [base + '.md', base + '.csv', base + '.png']


def cell_text(row) -> str:
    return (f"{row['accuracy_mean']:.2f} +- {row['accuracy_ci95']:.2f}"
            if row else '-')


def mtl_verdict(cells, mtl: str, ways: int, shots: int) -> str:
    """'yes' when MTL's mean is at least the best parent's (its meta
    parent and the better transfer head), else 'no'; with the margins to
    that best parent and to the meta parent alone."""
    row = cells.get((mtl, ways, shots))
    parent = cells.get((PARENTS[mtl], ways, shots))
    rivals = {m: cells.get((m, ways, shots)) for m in (PARENTS[mtl],
                                                      *TRANSFERS)}
    rivals = {m: r for m, r in rivals.items() if r}
    if not row or not rivals:
        return '-'
    best = max(rivals, key=lambda m: rivals[m]['accuracy_mean'])
    margin = row['accuracy_mean'] - rivals[best]['accuracy_mean']
    text = f"{'yes' if margin >= 0 else 'no'} ({margin:+.2f} vs {best}"
    if parent and best != PARENTS[mtl]:
        text += (f"; {row['accuracy_mean'] - parent['accuracy_mean']:+.2f} "
                 f'vs {PARENTS[mtl]}')
    difference = paired(row, parent) if parent else None
    if difference:
        text += (f'; paired vs {PARENTS[mtl]} {difference[0]:+.2f} +- '
                 f'{difference[1]:.2f}')
    return text + ')'


def standard_markdown(cells) -> str:
    """The standard split table: ours beside the published numbers."""
    lines = [
        '| method | 5-way 1-shot (ours) | 5-way 5-shot (ours) | published '
        '1-shot | published 5-shot | published by |', '|---|---|---|---|---|---|'
    ]
    for method, (title, one, five, whose) in STANDARD.items():
        ours = [cells.get((method, 5, shots)) for shots in (1, 5)]
        if not any(ours):
            continue
        published = [f'{v:.2f}' if v is not None else '-' for v in (one,
                                                                    five)]
        lines.append(f'| {title} | {cell_text(ours[0])} | '
                     f'{cell_text(ours[1])} | {published[0]} | '
                     f'{published[1]} | {whose or "-"} |')
    for mtl, parent in PARENTS.items():
        for shots in (1, 5):
            row, other = cells.get((mtl, 5, shots)), cells.get(
                (parent, 5, shots))
            difference = paired(row, other) if row and other else None
            if difference:
                lines.append(f'\n{mtl} - {parent}, 5-way {shots}-shot, paired '
                             f'over the same episodes: {difference[0]:+.2f} '
                             f'+- {difference[1]:.2f}')
    return '\n'.join(lines)


def variants_markdown(cells) -> str:
    lines = [
        '| model | val 5-way 1-shot | val 5-way 5-shot |', '|---|---|---|'
    ]
    for name, title in VARIANTS.items():
        ours = [cells.get((name, 5, shots)) for shots in (1, 5)]
        if any(ours):
            lines.append(f'| {title} | {cell_text(ours[0])} | '
                         f'{cell_text(ours[1])} |')
    base = {s: cells.get(('mtl-maml', 5, s)) for s in (1, 5)}
    for name in VARIANTS:
        for shots in (1, 5):
            row = cells.get((name, 5, shots))
            difference = (paired(row, base[shots])
                          if row and base[shots] and name != 'mtl-maml'
                          else None)
            if difference:
                lines.append(f'\n{name} - mtl-maml, 5-way {shots}-shot, '
                             f'paired: {difference[0]:+.2f} +- '
                             f'{difference[1]:.2f}')
    return '\n'.join(lines)


def markdown(cells) -> str:
    settings = sorted({(w, s) for _, w, s in cells})
    names = [m for m in METHODS if any(k[0] == m for k in cells)]
    verdicts = [m for m in PARENTS if m in names]
    lines = [
        '| ways | shots | episodes | ' +
        ' | '.join(METHODS[m] for m in names) + ''.join(
            f' | {METHODS[m]} >= max({METHODS[PARENTS[m]]}, Transfer)'
            for m in verdicts) + ' |',
        '|---|---|---|' + '---|' * (len(names) + len(verdicts))
    ]
    for ways, shots in settings:
        episodes = {
            cells[(m, ways, shots)]['num_episodes']
            for m in names if (m, ways, shots) in cells
        }
        lines.append(
            f'| {ways} | {shots} | {"/".join(map(str, sorted(episodes)))} | '
            + ' | '.join(cell_text(cells.get((m, ways, shots)))
                         for m in names) +
            ''.join(' | ' + mtl_verdict(cells, m, ways, shots)
                    for m in verdicts) + ' |')
    lines += [
        '', "Eshratifar et al.'s Table 1 (84x84, their numbers, for "
        'reference only):', '',
        '| ways | shots | ' + ' | '.join(METHODS[m]
                                         for m in PAPER_COLUMNS) + ' |',
        '|---|---|' + '---|' * len(PAPER_COLUMNS)
    ]
    for (ways, shots), values in sorted(PAPER.items()):
        lines.append(f'| {ways} | {shots} | ' +
                     ' | '.join(f'{v:.2f}' for v in values) + ' |')
    return '\n'.join(lines)


def write_csv(cells, path: str, paper=True) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'method', 'ways', 'shots', 'episodes', 'queries',
            'accuracy_mean', 'accuracy_ci95', 'accuracy_std', 'published',
            'paired_vs_meta_parent', 'paired_ci95'
        ])
        for (method, ways, shots), row in sorted(cells.items()):
            published = ''
            if paper and method in PAPER_COLUMNS and (ways, shots) in PAPER:
                published = PAPER[(ways, shots)][PAPER_COLUMNS.index(method)]
            elif not paper and method in STANDARD:
                published = STANDARD[method][1 if shots == 1 else 2] or ''
            difference = (paired(row, cells[(PARENTS[method], ways, shots)])
                          if (PARENTS.get(method), ways, shots) in cells
                          else None)
            writer.writerow([
                method, ways, shots, row['num_episodes'],
                row.get('num_queries', ''), f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}",
                published, f'{difference[0]:.4f}' if difference else '',
                f'{difference[1]:.4f}' if difference else ''
            ])


def plot(cells, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ways_list = sorted({w for _, w, _ in cells})
    fig, axes = plt.subplots(1, len(ways_list), figsize=(4.2 * len(ways_list),
                                                          3.6))
    axes = [axes] if len(ways_list) == 1 else list(axes)
    for ax, ways in zip(axes, ways_list):
        for method, title in METHODS.items():
            line = sorted((s, r) for (m, w, s), r in cells.items()
                          if m == method and w == ways)
            if not line:
                continue
            ax.errorbar([str(s) for s, _ in line],
                        [r['accuracy_mean'] for _, r in line],
                        yerr=[r['accuracy_ci95'] for _, r in line],
                        marker='o', capsize=3, label=title)
        ax.set_title(f'{ways}-way')
        ax.set_xlabel('shots')
        ax.set_ylabel('accuracy (%), 95% CI')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else 'work_dirs/mini_table1'
    cells = collect(out_dir)
    standard = collect(osp.join(out_dir, 'standard'), STANDARD)
    variants = collect(osp.join(out_dir, 'val'), VARIANTS)
    if not (cells or standard or variants):
        sys.exit(f'no meta_test_*.json under {out_dir}/[standard/|val/]'
                 '<method>/')
    written = []
    if cells:
        table = markdown(cells)
        written += write_report(osp.join(out_dir, 'table1'), table, cells,
                                write_csv, plot)
    if standard:
        table = standard_markdown(standard)
        base = osp.join(out_dir, 'standard')
        with open(base + '.md', 'w') as f:
            f.write(table + '\n')
        write_csv(standard, base + '.csv', paper=False)
        print('\nStandard test split, 5-way:\n\n' + table)
        written += [base + '.md', base + '.csv']
    if variants:
        table = variants_markdown(variants)
        with open(osp.join(out_dir, 'variants.md'), 'w') as f:
            f.write(table + '\n')
        print('\nMTL variants, val episodes:\n\n' + table)
        written.append(osp.join(out_dir, 'variants.md'))
    times = osp.join(out_dir, 'train_times.txt')
    if osp.isfile(times):
        with open(times) as f:
            print('\n' + f.read())
    print('written: ' + ', '.join(written))


if __name__ == '__main__':
    main()
