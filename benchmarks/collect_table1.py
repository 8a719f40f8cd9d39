"""Gather benchmarks/mini_imagenet_table1.sh's meta-test results into
Eshratifar et al.'s Table 1 shape: a row per (ways, shots), a column per
method (mean accuracy +- 95% CI), the paper's number beside ours, and
whether MTL reaches the better of its two parents; as markdown, CSV and a
PNG (accuracy vs shots, a panel per ways).

    python benchmarks/collect_table1.py work_dirs/mini_table1
"""
import csv
import glob
import json
import os.path as osp
import sys

# folder name -> column title
METHODS = {
    'transfer-linear': 'Transfer (linear SGD head)',
    'transfer': 'Transfer (cosine centroid head)',
    'protonet': 'ProtoNet',
    'reptile': 'Reptile',
    'mtl-reptile': 'MTL-Reptile',
    'maml': 'MAML',
    'mtl-maml': 'MTL-MAML',
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
}
TRANSFERS = ('transfer-linear', 'transfer')


def collect(out_dir: str) -> dict:
    """{(method, ways, shots): result row}, the newest file per cell."""
    cells = {}
    for method in METHODS:
        files = sorted(glob.glob(osp.join(out_dir, method,
                                          'meta_test_*.json')))
        for path in files:  # oldest first: newer results overwrite
            with open(path) as f:
                for row in json.load(f)['results']:
                    cells[(method, row['num_ways'], row['num_shots'])] = row
    return cells


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
    return text + ')'


def markdown(cells) -> str:
    settings = sorted({(w, s) for _, w, s in cells})
    names = [m for m in METHODS if any(k[0] == m for k in cells)]
    lines = [
        '| ways | shots | episodes | ' + ' | '.join(METHODS[m]
                                                   for m in names) +
        ' | MTL-MAML >= max(MAML, Transfer) | MTL-Reptile >= '
        'max(Reptile, Transfer) |',
        '|---|---|---|' + '---|' * (len(names) + 2)
    ]
    for ways, shots in settings:
        episodes = {
            cells[(m, ways, shots)]['num_episodes']
            for m in names if (m, ways, shots) in cells
        }
        lines.append(
            f'| {ways} | {shots} | {"/".join(map(str, sorted(episodes)))} | '
            + ' | '.join(cell_text(cells.get((m, ways, shots)))
                         for m in names) + ' | ' +
            mtl_verdict(cells, 'mtl-maml', ways, shots) + ' | ' +
            mtl_verdict(cells, 'mtl-reptile', ways, shots) + ' |')
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


def write_csv(cells, path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'method', 'ways', 'shots', 'episodes', 'queries',
            'accuracy_mean', 'accuracy_ci95', 'accuracy_std', 'paper'
        ])
        for (method, ways, shots), row in sorted(cells.items()):
            paper = ''
            if method in PAPER_COLUMNS and (ways, shots) in PAPER:
                paper = PAPER[(ways, shots)][PAPER_COLUMNS.index(method)]
            writer.writerow([
                method, ways, shots, row['num_episodes'],
                row.get('num_queries', ''), f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}",
                paper
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
    if not cells:
        sys.exit(f'no meta_test_*.json under {out_dir}/<method>/')
    table = markdown(cells)
    base = osp.join(out_dir, 'table1')
    with open(base + '.md', 'w') as f:
        f.write(table + '\n')
    write_csv(cells, base + '.csv')
    plot(cells, base + '.png')
    print(table)
    times = osp.join(out_dir, 'train_times.txt')
    if osp.isfile(times):
        with open(times) as f:
            print('\n' + f.read())
    print(f'written: {base}.md, {base}.csv, {base}.png')


if __name__ == '__main__':
    main()
