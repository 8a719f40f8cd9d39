"""``tools/adapt.py``: adapt a trained checkpoint to your own classes and
predict new images:

python tools/adapt.py CONFIG CHECKPOINT --support DIR [--query PATH ...]
    [--save adapted.pth] [--topk K] [--json out.json] [--device cpu]
    [--threads N] [--cfg-options KEY=VALUE ...] [--show-dir DIR]
    [--adapter NAME [--adapter-cfg KEY=VALUE ...]]
python tools/adapt.py --load adapted.pth --query PATH ... [--topk K]

DIR holds one folder per class (DIR/<class name>/*.jpg|jpeg|png, any number
of images each); a query PATH is an image or a folder of images.
"""
import argparse
import json
import os
import os.path as osp
from typing import List

from mmengine.config import Config, DictAction

from mmmtl.apis import CustomTask
from mmmtl.apis.custom_task import IMAGE_EXTENSIONS
from mmmtl.models.adapters.presets import adapter_cfg, add_adapter_options
from mmmtl.utils import add_threads_option, setup_threads, tune_allocator


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/adapt.py`` (also read by the docs
    check, tests/test_docs.py)."""
    parser = argparse.ArgumentParser(
        description='Adapt a few-shot model to the classes of a support '
        'folder and predict query images')
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--support', help='folder of class folders: DIR/<class>/<image>')
    parser.add_argument(
        '--query', nargs='+', default=[], help='images or folders of images')
    parser.add_argument('--save', help='write the adapted task here')
    parser.add_argument(
        '--load', help='adapted task written by --save (replaces CONFIG '
        'CHECKPOINT --support)')
    parser.add_argument(
        '--topk', type=int, default=3, help='classes shown per image')
    parser.add_argument('--json', help='also write the predictions here')
    parser.add_argument(
        '--show-dir',
        metavar='DIR',
        help='also write one PNG per query: the image as the model sees it '
        '(after the test pipeline) and its top-k classes')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    add_adapter_options(parser)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override keys of CONFIG before the model is built, e.g. '
        'model.adapter.line_search=True')
    add_threads_option(parser)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.load and (args.adapter != 'own' or args.adapter_cfg):
        parser.error('--load: the saved task keeps the adapter it was '
                     'adapted with; --adapter applies to CONFIG CHECKPOINT')
    if args.load:
        if args.config or args.checkpoint or args.support:
            parser.error('--load replaces CONFIG CHECKPOINT --support; give '
                         'one or the other')
    elif not (args.config and args.checkpoint and args.support):
        parser.error('give CONFIG CHECKPOINT --support DIR, or --load FILE')
    if args.load and args.cfg_options:
        parser.error('--cfg-options changes CONFIG; an adapted task given by '
                     '--load keeps the config it was adapted with')
    if not (args.query or args.save):
        parser.error('nothing to do: give --query and/or --save')
    if args.topk < 1:
        parser.error('--topk must be >= 1')
    return args


def expand_queries(paths: List[str]) -> List[str]:
    """Image files named directly, and the images under named folders
    (recursively, sorted)."""
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                osp.join(folder, name)
                for folder, _, names in os.walk(path) for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise ValueError(f'query folder {path} holds no '
                                 f'{"/".join(IMAGE_EXTENSIONS)} images')
            images.extend(found)
        elif osp.isfile(path):
            images.append(path)
        else:
            raise FileNotFoundError(f'query image {path} does not exist')
    return images


def format_table(predictions: List[dict]) -> str:
    """Markdown table: one row per query, its top-k classes with
    probabilities."""
    k = max(len(p['classes']) for p in predictions)
    lines = [
        '| query | ' + ' | '.join(f'top-{i + 1}' for i in range(k)) + ' |',
        '|---' * (k + 1) + '|'
    ]
    for p in predictions:
        cells = [f'{c} ({prob:.3f})' for c, prob in zip(p['classes'],
                                                       p['probs'])]
        lines.append(f"| {p['image']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def show_predictions(task: CustomTask, predictions: List[dict],
                     folder: str) -> List[str]:
    """Write ``<folder>/<index>_<image name>.png`` for every prediction:
    the query as the model sees it (``task.prepare``, before
    normalisation), titled with its top-k classes and probabilities;
    returns the paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index, p in enumerate(predictions):
        image = task.prepare(p['image'], p['image']).numpy()
        shown = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        fig, ax = plt.subplots(figsize=(3, 3.4))
        ax.imshow(shown, cmap='gray' if image.shape[0] == 1 else None,
                  vmin=0, vmax=255)
        ax.axis('off')
        ax.set_title('\n'.join(f'{c} ({prob:.3f})' for c, prob in zip(
            p['classes'], p['probs'])), fontsize=7)
        stem = osp.splitext(osp.basename(p['image']))[0]
        paths.append(osp.join(folder, f'{index:03d}_{stem}.png'))
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    setup_threads(args.threads)
    tune_allocator()
    queries = expand_queries(args.query)  # fail fast, before adapting
    if args.load:
        task = CustomTask.load(args.load, device=args.device)
    else:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        task = CustomTask.from_config(
            cfg,
            args.checkpoint,
            device=args.device,
            adapter=adapter_cfg(args.adapter, cfg.model.to_dict(),
                                args.adapter_cfg))
        task.adapt(args.support)
    print(f'{len(task.classes)} classes: {", ".join(task.classes)} '
          f'(adapter: {task.model.adapter.describe()})')
    if args.save:
        task.save(args.save)
        print(f'adapted task written to {args.save}')
    if not queries:
        return []
    predictions = task.predict(queries, topk=args.topk)
    print(format_table(predictions))
    if args.show_dir:
        shown = show_predictions(task, predictions, args.show_dir)
        print(f'{len(shown)} prediction images written to {args.show_dir}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    checkpoint=args.checkpoint,
                    cfg_options=args.cfg_options,
                    adapted_task=args.load,
                    support=args.support,
                    adapter=task.model.adapter.describe(),
                    classes=task.classes,
                    predictions=predictions),
                f,
                indent=2)
        print(f'predictions written to {args.json}')
    return predictions

