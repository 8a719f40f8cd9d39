"""Record what every leaf config resolves to, in
tests/data/config_snapshot.json.gz: the reference with which
tests/test_config_snapshot.py proves that restructuring the configs (bases,
inheritance) left their behaviour as it was.

    python tools/misc/config_snapshot.py
    python tools/misc/config_snapshot.py --add configs/x/new_leaf.py

A leaf is a config under configs/ outside configs/_base_. Its record holds
the keys the Runner and the tools read (``BEHAVIOUR_KEYS``), as
``Config.fromfile`` resolves them; helper variables that only serve to
build them (``test_pipeline``, ``meta_train_dataloader``, ...) are not
behaviour and are not recorded. ``--add`` records new leaves and refuses to
overwrite a recorded one: record the whole tree again only for a change of
behaviour on purpose, never to make the test pass; a difference allowed on
purpose is listed in the test with its reason.
"""
import argparse
import glob
import gzip
import json
import os.path as osp
import sys
from typing import Dict, Iterator, List, Tuple

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SNAPSHOT = osp.join('tests', 'data', 'config_snapshot.json.gz')
# what mmengine's Runner.from_cfg and tools/train.py / tools/test.py read
BEHAVIOUR_KEYS = ('model', 'data_preprocessor', 'train_dataloader',
                  'val_dataloader', 'test_dataloader', 'train_cfg',
                  'val_cfg', 'test_cfg', 'optim_wrapper', 'param_scheduler',
                  'auto_scale_lr', 'val_evaluator', 'test_evaluator',
                  'default_hooks', 'custom_hooks', 'load_from',
                  'load_from_strict', 'resume', 'launcher', 'env_cfg',
                  'log_processor', 'log_level', 'visualizer', 'default_scope',
                  'randomness', 'experiment_name', 'work_dir')
ABSENT = '<absent>'


def leaf_configs(root: str = ROOT) -> List[str]:
    """Every leaf config, relative to ``root``, sorted."""
    configs = osp.join(root, 'configs')
    return sorted(
        osp.relpath(path, root)
        for path in glob.glob(osp.join(configs, '**', '*.py'), recursive=True)
        if '_base_' not in osp.relpath(path, configs).split(osp.sep))


def plain(value):
    """``value`` as JSON gives it back (tuples as lists, ConfigDicts as
    dicts), so that a recorded and a rebuilt value compare equal."""
    return json.loads(json.dumps(value, sort_keys=True))


def record(path: str, root: str = ROOT) -> dict:
    """The behaviour keys of one leaf, resolved (``ABSENT`` where unset)."""
    cfg = Config.fromfile(osp.join(root, path)).to_dict()
    return plain({key: cfg.get(key, ABSENT) for key in BEHAVIOUR_KEYS})


def differences(recorded, now, where: str = '') -> Iterator[Tuple[str, object,
                                                                    object]]:
    """``(key path, recorded value, current value)`` of every difference;
    key paths as ``--cfg-options`` writes them (``model.head.in_channels``,
    ``train_dataloader.dataset.pipeline.0.type``)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in sorted(set(recorded) | set(now)):
            yield from differences(
                recorded.get(key, ABSENT), now.get(key, ABSENT),
                f'{where}.{key}' if where else key)
    elif (isinstance(recorded, list) and isinstance(now, list)
          and len(recorded) == len(now)):
        for i, (a, b) in enumerate(zip(recorded, now)):
            yield from differences(a, b, f'{where}.{i}')
    elif recorded != now:
        yield where, recorded, now


def load(root: str = ROOT) -> Dict[str, dict]:
    with gzip.open(osp.join(root, SNAPSHOT), 'rt', encoding='utf-8') as f:
        return json.load(f)


def save(snapshot: Dict[str, dict], root: str = ROOT) -> None:
    path = osp.join(root, SNAPSHOT)
    text = json.dumps(snapshot, sort_keys=True, indent=1) + '\n'
    # mtime=0: the same snapshot gives the same bytes
    with open(path, 'wb') as raw, gzip.GzipFile(
            filename='', mode='wb', fileobj=raw, mtime=0) as f:
        f.write(text.encode('utf-8'))


def build_parser() -> argparse.ArgumentParser:
    """This tool's command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--root', default=ROOT, help='repository root')
    parser.add_argument(
        '--add', nargs='+', metavar='CONFIG', help='record new leaves only')
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    root = args.root
    if args.add:
        snapshot = load(root)
        for path in args.add:
            path = osp.relpath(osp.join(root, path), root)
            if path in snapshot:
                parser.error(f'{path} is recorded already; its record '
                             'changes only with its behaviour, on purpose')
            snapshot[path] = record(path, root)
        save(snapshot, root)
        return 0
    save({path: record(path, root) for path in leaf_configs(root)}, root)
    return 0


if __name__ == '__main__':
    sys.exit(main())
