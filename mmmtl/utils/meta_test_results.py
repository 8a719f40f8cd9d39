"""The files of a meta-test: JSON, CSV, markdown and a PNG plot of its
(ways, shots) cells."""
import csv
import json
import os.path as osp
from typing import List

METRIC_KEYS = ('accuracy_mean', 'accuracy_std', 'accuracy_ci95')
PAIRED_KEYS = ('paired_diff_mean', 'paired_diff_ci95')


def write_results(base: str, rows: List[dict], meta: dict) -> str:
    """Write ``rows`` (one per cell) as ``base`` + ``.json`` (``meta`` and
    ``results``: the rows with their per-episode accuracies), ``.csv``,
    ``.md`` and ``.png`` (accuracy vs shots, one line per ways); return the
    markdown table. Rows with a paired comparison (``paired_diff_*``, see
    :mod:`mmmtl.utils.paired_comparison`) add its columns."""
    with open(base + '.json', 'w') as f:
        json.dump(dict(meta, results=rows), f, indent=2)
    paired = [k for k in PAIRED_KEYS if any(k in r for r in rows)]
    fields = ['num_ways', 'num_shots', 'num_episodes', *METRIC_KEYS, *paired,
              'adapter']
    with open(base + '.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    header = '| ways | shots | episodes | accuracy (%) | 95% CI | std |'
    rule = '|---|---|---|---|---|---|'
    if paired:
        header += f" paired difference vs {osp.basename(meta['paired_with'])}"
        header += ' (%, 95% CI) |'
        rule += '---|'
    lines = [header, rule]
    for r in rows:
        line = (f"| {r['num_ways']} | {r['num_shots']} | "
                f"{r['num_episodes']} | {r['accuracy_mean']:.2f} | "
                f"+- {r['accuracy_ci95']:.2f} | "
                f"{r['accuracy_std']:.2f} |")
        if paired:
            line += (f" {r['paired_diff_mean']:+.2f} +- "
                     f"{r['paired_diff_ci95']:.2f} |"
                     if 'paired_diff_mean' in r else ' - |')
        lines.append(line)
    table = '\n'.join(lines)
    adapter = f", adapter {meta['adapter']}" if meta.get('adapter') else ''
    title = f"{osp.basename(meta['config'])}, seed {meta['seed']}{adapter}"
    with open(base + '.md', 'w') as f:
        f.write(f"{meta['config']}, {meta['checkpoint']}, seed "
                f"{meta['seed']}{adapter}\n\n{table}\n\n![accuracy vs shots]"
                f"({osp.basename(base)}.png)\n")
    plot_results(rows, base + '.png', title)
    return table


def plot_results(rows: List[dict], path: str, title: str) -> None:
    """Accuracy vs shots, one line per ways, with 95% CI error bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for ways in sorted({r['num_ways'] for r in rows}):
        line = sorted((r for r in rows if r['num_ways'] == ways),
                      key=lambda r: r['num_shots'])
        ax.errorbar([r['num_shots'] for r in line],
                    [r['accuracy_mean'] for r in line],
                    yerr=[r['accuracy_ci95'] for r in line],
                    marker='o',
                    capsize=3,
                    label=f'{ways}-way')
    ax.set_xlabel('shots')
    ax.set_ylabel('accuracy (%), 95% CI')
    ax.set_xticks(sorted({r['num_shots'] for r in rows}))
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
