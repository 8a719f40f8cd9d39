"""Gather the embedding x adapter study of
``benchmarks/mini_imagenet_table1.sh adapters``: every Table-1 model (an
embedding) meta-tested on the same seeded episodes with its own adapter
(folder ``<model>``), the cosine ``Centroid`` (``<model>@centroid``) and the
``LinearProbe`` (``<model>@linear``). Writes ``adapters.md`` (the accuracy
table, then the answers: with one adapter for all, the paired difference
of each MTL embedding to Transfer's and to its meta parent's; and the best
adapter of each embedding per cell, with its paired margin), ``.csv`` and
``.png``.

    python benchmarks/collect_adapters.py work_dirs/mini_table1
"""
import csv
import os.path as osp
import sys

from collect_table1 import collect, paired, write_report

# folder -> title (the embeddings)
EMBEDDINGS = {
    'transfer': 'Transfer',
    'protonet': 'ProtoNet',
    'maml': 'MAML',
    'mtl-maml': 'MTL-MAML',
    'mtl-maml-warm': 'MTL-MAML (warm start)',
    'reptile': 'Reptile',
    'mtl-reptile': 'MTL-Reptile',
}
# suffix -> title (the adapters; '' is each model's own)
ADAPTERS = {'': 'own', '@centroid': 'Centroid', '@linear': 'LinearProbe'}
# (embedding, compared with): the study's questions
COMPARISONS = (('mtl-maml', 'transfer'), ('mtl-maml', 'maml'),
               ('mtl-maml-warm', 'transfer'), ('mtl-maml-warm', 'maml'),
               ('mtl-reptile', 'transfer'), ('mtl-reptile', 'reptile'))


def gather(out_dir: str) -> dict:
    """{(embedding, adapter suffix, ways, shots): result row}."""
    folders = {e + a: (e, a) for e in EMBEDDINGS for a in ADAPTERS}
    return {(*folders[f], w, s): row
            for (f, w, s), row in collect(out_dir, folders).items()}


def text(row) -> str:
    return (f"{row['accuracy_mean']:.2f} +- {row['accuracy_ci95']:.2f}"
            if row else '-')


def difference_text(a, b) -> str:
    """'+d +- ci' (paired, a - b) or '-'; marked * where the CI excludes 0."""
    if not a or not b:
        return '-'
    found = paired(a, b)
    if found is None:
        return '-'
    mean, ci = found
    return f"{mean:+.2f} +- {ci:.2f}{'*' if abs(mean) > ci else ''}"


def best_adapter(cells, embedding, ways, shots) -> str:
    """The adapter with the highest mean for an embedding in a cell, and
    its paired margin over the runner-up."""
    rows = {a: cells.get((embedding, a, ways, shots)) for a in ADAPTERS}
    rows = {a: r for a, r in rows.items() if r}
    if not rows:
        return '-'
    ranked = sorted(rows, key=lambda a: -rows[a]['accuracy_mean'])
    best = ranked[0]
    if len(ranked) == 1:
        return ADAPTERS[best]
    return (f'{ADAPTERS[best]} ({difference_text(rows[best], rows[ranked[1]])}'
            f' vs {ADAPTERS[ranked[1]]})')


def markdown(cells) -> str:
    settings = sorted({(w, s) for _, _, w, s in cells})
    embeddings = [e for e in EMBEDDINGS if any(k[0] == e for k in cells)]
    lines = [
        '| ways | shots | adapter | ' +
        ' | '.join(EMBEDDINGS[e] for e in embeddings) + ' |',
        '|---|---|---|' + '---|' * len(embeddings)
    ]
    for ways, shots in settings:
        for suffix, title in ADAPTERS.items():
            if not any((e, suffix, ways, shots) in cells
                       for e in embeddings):
                continue
            lines.append(f'| {ways} | {shots} | {title} | ' + ' | '.join(
                text(cells.get((e, suffix, ways, shots)))
                for e in embeddings) + ' |')
    comparisons = [(a, b) for a, b in COMPARISONS
                   if a in embeddings and b in embeddings]
    lines += [
        '', 'Same adapter, paired difference of the embeddings on the '
        'shared episodes (points, 95% CI; * where the CI excludes 0):', '',
        '| ways | shots | adapter | ' + ' | '.join(
            f'{EMBEDDINGS[a]} - {EMBEDDINGS[b]}' for a, b in comparisons) +
        ' |', '|---|---|---|' + '---|' * len(comparisons)
    ]
    for ways, shots in settings:
        for suffix in ('@centroid', '@linear'):
            lines.append(f'| {ways} | {shots} | {ADAPTERS[suffix]} | ' +
                         ' | '.join(
                             difference_text(
                                 cells.get((a, suffix, ways, shots)),
                                 cells.get((b, suffix, ways, shots)))
                             for a, b in comparisons) + ' |')
    lines += [
        '', 'Best adapter per embedding (paired margin over the next best):',
        '', '| ways | shots | ' + ' | '.join(EMBEDDINGS[e]
                                            for e in embeddings) + ' |',
        '|---|---|' + '---|' * len(embeddings)
    ]
    for ways, shots in settings:
        lines.append(f'| {ways} | {shots} | ' + ' | '.join(
            best_adapter(cells, e, ways, shots) for e in embeddings) + ' |')
    return '\n'.join(lines)


def write_csv(cells, path: str) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'embedding', 'adapter', 'adapter_settings', 'ways', 'shots',
            'episodes', 'accuracy_mean', 'accuracy_ci95', 'accuracy_std'
        ])
        for (embedding, suffix, ways, shots), row in sorted(cells.items()):
            writer.writerow([
                embedding, ADAPTERS[suffix], row.get('adapter', ''), ways,
                shots, row['num_episodes'], f"{row['accuracy_mean']:.4f}",
                f"{row['accuracy_ci95']:.4f}", f"{row['accuracy_std']:.4f}"
            ])


def plot(cells, path: str) -> None:
    """A panel per adapter: accuracy per (ways, shots) cell, a line per
    embedding."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    settings = sorted({(w, s) for _, _, w, s in cells})
    fig, axes = plt.subplots(1, len(ADAPTERS), figsize=(15, 4), sharey=True)
    for ax, (suffix, title) in zip(axes, ADAPTERS.items()):
        for embedding, name in EMBEDDINGS.items():
            rows = [cells.get((embedding, suffix, w, s)) for w, s in settings]
            if not any(rows):
                continue
            ax.errorbar(range(len(settings)),
                        [r['accuracy_mean'] if r else float('nan')
                         for r in rows],
                        yerr=[r['accuracy_ci95'] if r else 0 for r in rows],
                        marker='o', capsize=2, label=name)
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels([f'{w}w{s}s' for w, s in settings], rotation=45,
                           fontsize=7)
        ax.set_title(f'adapter: {title}')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('accuracy (%), 95% CI')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else 'work_dirs/mini_table1'
    cells = gather(out_dir)
    if not cells:
        sys.exit(f'no meta_test_*.json under {out_dir}/<model>[@adapter]/')
    table = markdown(cells)
    written = write_report(osp.join(out_dir, 'adapters'), table, cells,
                           write_csv, plot)
    print(f'written: {", ".join(written)}')


if __name__ == '__main__':
    main()
