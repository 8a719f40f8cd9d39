"""``tools/test.py``: meta-test a checkpoint on seeded episodes, for one or
several ways x shots settings (:class:`MetaTestLoop`)."""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.model import is_model_wrapper

from mmmtl.models.adapters.presets import adapter_cfg, add_adapter_options
from mmmtl.registry import MODELS
from mmmtl.utils import (add_threads_option, finish_distributed,
                         register_all_modules, setup_cfg, setup_threads,
                         tune_allocator)
from mmmtl.utils.checkpoint import is_url


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/test.py`` (also read by the docs
    check, tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description='Meta-test a checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where results go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--ways', type=int, nargs='+', help='N of N-way')
    parser.add_argument('--shots', type=int, nargs='+', help='K of K-shot')
    parser.add_argument('--queries', type=int, help='queries per class')
    parser.add_argument('--episodes', type=int, help='number of episodes')
    parser.add_argument('--seed', type=int, help='episode seed')
    parser.add_argument(
        '--paired-with',
        metavar='RESULTS_JSON',
        help='another meta-test\'s meta_test_*.json: for every (ways, shots) '
        'cell both have on the same episodes, add the mean per-episode '
        'accuracy difference (this minus that) with its 95%% CI')
    add_adapter_options(parser)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys')
    add_threads_option(parser)
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ('ways', 'shots', 'queries', 'episodes'):
        values = getattr(args, name)
        if values is not None and min(
                values if isinstance(values, list) else [values]) < 1:
            parser.error(f'--{name} must be >= 1, got {values}')
    if args.paired_with and not osp.isfile(args.paired_with):
        parser.error(f'--paired-with {args.paired_with}: no such file')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def meta_test_cfg(args, cfg: Config) -> Config:
    """The config of the meta-test: the checkpoint loaded strictly, the
    episode options applied to the test dataset, and ``test_cfg`` a
    :class:`MetaTestLoop` over the ways x shots cells."""
    if not is_url(args.checkpoint) and not osp.exists(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint
    cfg.load_from_strict = True  # the model must be the checkpoint's
    cfg.resume = False
    episodes = cfg.test_dataloader['dataset']
    if episodes.get('type') != 'EpisodicDataset':
        raise ValueError(f'{args.config}: test_dataloader.dataset must be an '
                         'EpisodicDataset to meta-test')
    for key, value in (('num_queries', args.queries),
                       ('num_episodes', args.episodes), ('seed', args.seed)):
        if value is not None:
            episodes[key] = value
    cfg.test_cfg = dict(
        type='MetaTestLoop',
        adapter=adapter_cfg(args.adapter, cfg.model.to_dict(),
                            args.adapter_cfg),
        settings=[(ways, shots)
                  for ways in args.ways or [episodes['num_ways']]
                  for shots in args.shots or [episodes['num_shots']]],
        info=dict(config=args.config, checkpoint=args.checkpoint),
        paired_with=args.paired_with)
    return cfg


def check_cells(model,
                settings: List[tuple],
                adapter: Optional[dict] = None) -> None:
    """Refuse, before any cell runs, the (ways, shots) cells the model
    cannot meta-test with its adapter or ``adapter`` (``model.check_ways``:
    a head with a fixed number of ways), naming the cells and the model's
    constraint."""
    model = model.module if is_model_wrapper(model) else model
    check_ways = getattr(model, 'check_ways', None)
    if check_ways is None:  # a model outside mmmtl's base class
        return
    built = None if adapter is None else MODELS.build(adapter)
    refused, reason = [], ''
    for ways, shots in settings:
        try:
            check_ways(ways, built)
        except ValueError as err:
            refused.append(f'({ways}, {shots})')
            reason = str(err)
    if refused:
        raise ValueError(
            f'cannot meta-test the (ways, shots) cells {", ".join(refused)}: '
            f'{reason}. No cell was run; ask only for the ways the model '
            'has')


def main(argv=None) -> List[dict]:
    """Meta-test as ``tools/test.py`` (``argv``: its arguments); returns the
    result rows, one per (ways, shots) cell."""
    args = parse_args(argv)
    setup_threads(args.threads)
    tune_allocator()
    register_all_modules()
    from mmmtl.engine.hooks import MetaTestProgressHook
    from mmmtl.registry import RUNNERS
    cfg = meta_test_cfg(args, setup_cfg(args, Config.fromfile(args.config)))
    runner = RUNNERS.build(cfg)
    check_cells(runner.model, cfg.test_cfg['settings'],
                cfg.test_cfg['adapter'])
    runner.register_hook(MetaTestProgressHook())
    rows = runner.test()
    del runner
    finish_distributed()
    return rows
