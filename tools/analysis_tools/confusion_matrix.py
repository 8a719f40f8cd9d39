"""Which classes a meta-test gets wrong: per-class accuracy over the test
classes and a confusion-matrix PNG of the worst ones.

    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT
        [--ways 5] [--shots 1] [--queries 15] [--episodes 600] [--seed 0]
        [--top 20] [--out-dir DIR] [--threads N] [--cfg-options ...]
    python tools/analysis_tools/confusion_matrix.py --predictions P.json
        [--top 20] [--out-dir DIR]

The second form reads the predictions of ``tools/adapt.py --json P.json``
on queries kept in class folders (``my_queries/<class>/<image>``): a
query's true class is its folder's name, its prediction the top-1 class.

It meta-tests one (ways, shots) cell on the config's seeded test episodes,
as ``tools/test.py`` does (same episodes for the same options), and maps
every query's prediction from the episode's labels back to the dataset's
classes. Written to ``--out-dir`` (default: the work dir of tools/test.py,
``work_dirs/<config name>``): ``per_class_accuracy_<W>way-<K>shot.csv``
(class, queries, correct, accuracy, the class it is most often taken for),
``confusion_matrix_<W>way-<K>shot.png`` (the ``--top`` classes with the
lowest accuracy: rows the true class, columns the predicted one among
them, the rest as ``other``; row percentages) and a ``.json`` of both.
"""
import argparse
import csv
import json
import os
import os.path as osp
from collections import Counter, defaultdict
from typing import Dict, List

import numpy as np
import torch
from mmengine.config import Config, DictAction

from mmmtl.utils import add_threads_option, setup_threads


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--predictions',
        metavar='JSON',
        help='tools/adapt.py --json output on queries in class folders, '
        'instead of CONFIG CHECKPOINT')
    parser.add_argument('--ways', type=int, help='N of N-way')
    parser.add_argument('--shots', type=int, help='K of K-shot')
    parser.add_argument('--queries', type=int, help='queries per class')
    parser.add_argument('--episodes', type=int, help='number of episodes')
    parser.add_argument('--seed', type=int, help='episode seed')
    parser.add_argument(
        '--top', type=int, default=20,
        help='classes in the confusion matrix (lowest accuracy first)')
    parser.add_argument('--out-dir', help='where the files go')
    add_threads_option(parser)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys')
    return parser


def episodes_cfg(cfg: Config, args) -> dict:
    """The test dataloader's EpisodicDataset config with the options."""
    episodes = cfg.to_dict()['test_dataloader']['dataset']
    if episodes.get('type') != 'EpisodicDataset':
        raise ValueError(f'{args.config}: test_dataloader.dataset must be an '
                         'EpisodicDataset')
    for key, value in (('num_ways', args.ways), ('num_shots', args.shots),
                       ('num_queries', args.queries),
                       ('num_episodes', args.episodes), ('seed', args.seed)):
        if value is not None:
            if value < 1 and key != 'seed':
                raise ValueError(f'--{key[4:]} must be >= 1, got {value}')
            episodes[key] = value
    return episodes


@torch.no_grad()
def query_predictions(model, dataset, batch_size: int) -> List[tuple]:
    """(true class, predicted class) of every query of every episode, as
    dataset class indices."""
    from mmmtl.datasets import episode_collate
    pairs = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(
            start, min(start + batch_size, len(dataset)))]
        outputs = model.test_step(episode_collate(items))
        for item, out in zip(items, outputs):
            ways, shots = item['num_ways'], item['num_shots']
            labels = item['gt_label']
            classes = labels[:ways * shots:shots]  # support is class-major
            truth = labels[ways * shots:]
            predicted = classes[out['pred_label'].cpu()]
            # the episode labels of the queries agree with their classes
            assert torch.equal(classes[out['gt_label'].cpu()], truth)
            pairs += list(zip(truth.tolist(), predicted.tolist()))
    return pairs


def per_class(pairs: List[tuple], names: List[str]) -> List[dict]:
    """One row per class that had queries, lowest accuracy first."""
    taken_for: Dict[int, Counter] = defaultdict(Counter)
    for truth, predicted in pairs:
        taken_for[truth][predicted] += 1
    rows = []
    for truth, counts in taken_for.items():
        total = sum(counts.values())
        wrong = [(n, c) for c, n in counts.items() if c != truth]
        rows.append(
            dict(
                cls=names[truth],
                queries=total,
                correct=counts[truth],
                accuracy=100.0 * counts[truth] / total,
                most_confused_with=names[max(wrong)[1]] if wrong else ''))
    return sorted(rows, key=lambda r: (r['accuracy'], r['cls']))


def confusion(pairs: List[tuple], names: List[str],
              classes: List[str]) -> np.ndarray:
    """Row-normalised confusion (%) among ``classes``, a last column
    ``other`` for predictions outside them."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes) + 1))
    for truth, predicted in pairs:
        row = index.get(names[truth])
        if row is not None:
            matrix[row, index.get(names[predicted], len(classes))] += 1
    return 100.0 * matrix / matrix.sum(axis=1, keepdims=True)


def plot_confusion(matrix: np.ndarray, classes: List[str], path: str,
                   title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    size = 2.5 + 0.35 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    shown = ax.imshow(matrix, cmap='Blues', vmin=0, vmax=100)
    ax.set_xticks(range(len(classes) + 1))
    ax.set_xticklabels(classes + ['other'], rotation=90, fontsize=6)
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels(classes, fontsize=6)
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class')
    ax.set_title(title, fontsize=7)
    fig.colorbar(shown, ax=ax, label='% of the row\'s queries')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def custom_task_pairs(path: str) -> tuple:
    """(pairs, class names, protocol) of ``tools/adapt.py --json`` output:
    a query's true class is its folder's name."""
    with open(path) as f:
        saved = json.load(f)
    names = list(saved['classes'])
    index = {name: i for i, name in enumerate(names)}
    pairs = []
    for p in saved['predictions']:
        truth = osp.basename(osp.dirname(p['image']))
        if truth not in index:
            raise ValueError(
                f"{path}: query {p['image']} is in folder {truth!r}, not one "
                f'of the task\'s classes {names}: keep queries in class '
                'folders named as the support classes')
        pairs.append((index[truth], index[p['classes'][0]]))
    protocol = (f"custom task of {len(names)} classes, {len(pairs)} "
                'queries')
    return pairs, names, protocol


def meta_test_pairs(args) -> tuple:
    """(pairs, class names, protocol, cell) of one meta-test cell."""
    from mmmtl.apis import init_model
    from mmmtl.registry import DATASETS
    setup_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model, cfg = init_model(cfg, args.checkpoint)  # strict, eval mode
    episodes = episodes_cfg(cfg, args)
    dataset = DATASETS.build(episodes)
    pairs = query_predictions(model, dataset,
                              cfg.test_dataloader.get('batch_size', 1))
    protocol = (f"{episodes['num_ways']}-way {episodes['num_shots']}-shot, "
                f"{episodes['num_episodes']} episodes x "
                f"{episodes['num_queries']} queries, seed {episodes['seed']}")
    cell = f"{episodes['num_ways']}way-{episodes['num_shots']}shot"
    return pairs, list(dataset.dataset.classes), protocol, cell


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error(f'--top must be >= 1, got {args.top}')
    if args.predictions:
        if args.config or args.checkpoint:
            parser.error('--predictions replaces CONFIG CHECKPOINT')
        pairs, names, protocol = custom_task_pairs(args.predictions)
        cell, source = 'custom-task', args.predictions
        out_dir = args.out_dir or osp.dirname(args.predictions) or '.'
    elif args.config and args.checkpoint:
        pairs, names, protocol, cell = meta_test_pairs(args)
        source = (f'{osp.basename(args.config)}, '
                  f'{osp.basename(args.checkpoint)}')
        out_dir = args.out_dir or osp.join(
            'work_dirs', osp.splitext(osp.basename(args.config))[0])
    else:
        parser.error('give CONFIG CHECKPOINT, or --predictions JSON')
    return write_analysis(args, pairs, names, protocol, cell, source,
                          out_dir)


def write_analysis(args, pairs, names, protocol, cell, source,
                   out_dir) -> dict:
    """Write the CSV, JSON and PNG; print the summary; return the JSON's
    content."""
    rows = per_class(pairs, names)
    worst = [r['cls'] for r in rows[:args.top]]
    matrix = confusion(pairs, names, worst)
    os.makedirs(out_dir, exist_ok=True)
    base = osp.normpath(osp.join(out_dir, '{}_' + cell))
    accuracy = 100.0 * sum(t == p for t, p in pairs) / len(pairs)
    with open(base.format('per_class_accuracy') + '.csv', 'w',
              newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = dict(
        config=args.config, checkpoint=args.checkpoint,
        predictions=args.predictions, protocol=protocol,
        query_accuracy=accuracy, classes=len(rows), per_class=rows,
        confusion_classes=worst, confusion_percent=matrix.tolist())
    with open(base.format('per_class_accuracy') + '.json', 'w') as f:
        json.dump(summary, f, indent=2)
    png = base.format('confusion_matrix') + '.png'
    plot_confusion(
        matrix, worst, png,
        f'{source}\n{protocol}: the {len(worst)} classes of lowest '
        'accuracy')
    print(f'{protocol}: query accuracy {accuracy:.2f}% over {len(rows)} '
          'classes; lowest:')
    for r in rows[:min(5, len(rows))]:
        taken = (f"most often taken for {r['most_confused_with']}"
                 if r['most_confused_with'] else 'no errors')
        print(f"  {r['cls']}: {r['accuracy']:.1f}% of {r['queries']} "
              f'queries ({taken})')
    print(f"written: {base.format('per_class_accuracy')}.csv / .json, "
          f'{png}')
    return summary


if __name__ == '__main__':
    main()
