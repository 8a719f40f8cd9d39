"""The files of a meta-test: JSON, CSV, markdown and a PNG plot of its
(ways, shots) cells, each saying what was tested (config, checkpoint, split,
episodes, queries, seed) and which planned cells are still missing."""
import csv
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple

METRIC_KEYS = ('accuracy_mean', 'accuracy_std', 'accuracy_ci95')
PAIRED_KEYS = ('paired_diff_mean', 'paired_diff_ci95')
PROTOCOL_KEYS = ('num_queries', 'num_episodes', 'seed', 'split')


def missing_cells(rows: List[dict],
                  planned: Sequence[Tuple[int, int]]) -> List[Tuple[int,
                                                                    int]]:
    """The planned (ways, shots) cells that have no row."""
    done = {(r['num_ways'], r['num_shots']) for r in rows}
    return [tuple(c) for c in planned if tuple(c) not in done]


def cell_names(cells: Sequence[Tuple[int, int]]) -> str:
    return ', '.join(f'{w}-way {s}-shot' for w, s in cells)


def protocol_line(rows: List[dict]) -> str:
    """``split split, E episodes x Q queries per class, seed S`` (a field
    that differs between cells is listed per cell in the table)."""
    values = {k: sorted({str(r.get(k)) for r in rows}) for k in
              PROTOCOL_KEYS}
    one = {k: v[0] if len(v) == 1 else 'per cell' for k, v in values.items()}
    return (f"{one['split']} split, {one['num_episodes']} episodes x "
            f"{one['num_queries']} queries per class, seed {one['seed']}")


def write_results(base: str,
                  rows: List[dict],
                  meta: dict,
                  planned: Optional[Sequence[Tuple[int, int]]] = None) -> str:
    """Write ``rows`` (one per finished cell) as ``base`` + ``.json``
    (``meta``, ``planned_cells``, ``missing_cells``, ``complete`` and
    ``results``: the rows with their per-episode accuracies), ``.csv``,
    ``.md`` and ``.png`` (accuracy vs shots, one line per ways, chance
    dashed); return the markdown table. ``meta`` holds ``config`` and
    ``checkpoint``; ``planned`` the run's (ways, shots) cells (default:
    those of ``rows``): the files of an interrupted run name the missing
    ones. Rows with a paired comparison (``paired_diff_*``, see
    :mod:`mmmtl.utils.paired_comparison`) add its columns.

    Example:
        >>> import os.path as osp, tempfile
        >>> row = dict(num_ways=5, num_shots=1, num_queries=15,
        ...            num_episodes=2, seed=0, split='test',
        ...            accuracy_mean=60.0, accuracy_std=5.0,
        ...            accuracy_ci95=6.93, episode_accuracies=[55.0, 65.0])
        >>> base = osp.join(tempfile.mkdtemp(), 'meta_test')
        >>> print(write_results(base, [row], dict(
        ...     config='c.py', checkpoint='w.pth'), [(5, 1), (5, 5)]))
        | ways | shots | queries | episodes | accuracy (%) | 95% CI | std |
        |---|---|---|---|---|---|---|
        | 5 | 1 | 15 | 2 | 60.00 | +- 6.93 | 5.00 |
        | 5 | 5 | 15 | - | not run | - | - |
    """
    planned = [tuple(c) for c in planned] if planned is not None else [
        (r['num_ways'], r['num_shots']) for r in rows
    ]
    missing = missing_cells(rows, planned)
    with open(base + '.json', 'w') as f:
        json.dump(
            dict(
                meta,
                planned_cells=planned,
                missing_cells=missing,
                complete=not missing,
                results=rows),
            f,
            indent=2)
    paired = [k for k in PAIRED_KEYS if any(k in r for r in rows)]
    fields = [
        'num_ways', 'num_shots', *PROTOCOL_KEYS, *METRIC_KEYS, *paired,
        'adapter', 'checkpoint', 'run_complete', 'missing_cells'
    ]
    with open(base + '.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow(
                dict(
                    row,
                    checkpoint=meta.get('checkpoint'),
                    run_complete='yes' if not missing else 'no',
                    missing_cells=cell_names(missing)))
    table = markdown_table(rows, planned, meta, paired)
    status = ('' if not missing else
              f'\n\n**Incomplete run**: {len(missing)} of {len(planned)} '
              f'planned cells have no result: {cell_names(missing)}.')
    with open(base + '.md', 'w') as f:
        adapter = (f", adapter {meta['adapter']}"
                   if meta.get('adapter') else '')
        f.write(f"Meta-test of `{meta.get('checkpoint')}` with "
                f"`{meta.get('config')}`{adapter}: {protocol_line(rows)}."
                f"{status}\n\n{table}\n\n![accuracy vs shots]"
                f"({osp.basename(base)}.png)\n")
    plot_results(rows, base + '.png', plot_title(rows, meta, planned))
    return table


def markdown_table(rows: List[dict], planned: Sequence[Tuple[int, int]],
                   meta: dict, paired: List[str]) -> str:
    header = ('| ways | shots | queries | episodes | accuracy (%) | 95% CI | '
              'std |')
    rule = '|---|---|---|---|---|---|---|'
    if paired:
        header += f" paired difference vs {osp.basename(meta['paired_with'])}"
        header += ' (%, 95% CI) |'
        rule += '---|'
    lines = [header, rule]
    by_cell = {(r['num_ways'], r['num_shots']): r for r in rows}
    queries = {r.get('num_queries') for r in rows}
    for ways, shots in planned:
        r = by_cell.get((ways, shots))
        if r is None:
            shown = next(iter(queries)) if len(queries) == 1 else '-'
            lines.append(f'| {ways} | {shots} | {shown} | - | not run | - | '
                         '- |' + (' - |' if paired else ''))
            continue
        line = (f"| {ways} | {shots} | {r.get('num_queries', '-')} | "
                f"{r['num_episodes']} | {r['accuracy_mean']:.2f} | "
                f"+- {r['accuracy_ci95']:.2f} | "
                f"{r['accuracy_std']:.2f} |")
        if paired:
            line += (f" {r['paired_diff_mean']:+.2f} +- "
                     f"{r['paired_diff_ci95']:.2f} |"
                     if 'paired_diff_mean' in r else ' - |')
        lines.append(line)
    return '\n'.join(lines)


def plot_title(rows: List[dict], meta: dict,
               planned: Sequence[Tuple[int, int]]) -> str:
    """Config and checkpoint names, the protocol, and how many planned cells
    are missing."""
    title = (f"{osp.basename(str(meta.get('config')))}, "
             f"{osp.basename(str(meta.get('checkpoint')))}\n"
             f"{protocol_line(rows)}")
    if meta.get('adapter'):
        title += f"\nadapter {meta['adapter']}"
    missing = missing_cells(rows, planned)
    if missing:
        title += (f'\nincomplete: {len(missing)} of {len(planned)} cells '
                  f'missing ({cell_names(missing)})')
    return title


def plot_results(rows: List[dict], path: str, title: str) -> dict:
    """Accuracy vs shots, one line per ways, with 95% CI error bars and the
    chance level (100 / ways) dashed in the line's colour. Returns what was
    drawn: ``{'<N>-way': [(shots, accuracy), ...], 'chance, <N>-way':
    100 / N, 'title': title}``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    drawn_lines = {}
    for ways in sorted({r['num_ways'] for r in rows}):
        line = sorted((r for r in rows if r['num_ways'] == ways),
                      key=lambda r: r['num_shots'])
        drawn = ax.errorbar([r['num_shots'] for r in line],
                            [r['accuracy_mean'] for r in line],
                            yerr=[r['accuracy_ci95'] for r in line],
                            marker='o',
                            capsize=3,
                            label=f'{ways}-way')
        ax.axhline(
            100.0 / ways,
            linestyle='--',
            linewidth=1,
            color=drawn.lines[0].get_color(),
            label=f'chance, {ways}-way ({100.0 / ways:.1f}%)')
        drawn_lines[f'{ways}-way'] = [(r['num_shots'], r['accuracy_mean'])
                                      for r in line]
        drawn_lines[f'chance, {ways}-way'] = 100.0 / ways
    ax.set_xlabel('shots (support images per class)')
    ax.set_ylabel('accuracy (%), 95% CI')
    ax.set_xticks(sorted({r['num_shots'] for r in rows}))
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return dict(drawn_lines, title=ax.get_title())
