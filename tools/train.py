"""Train a few-shot classifier from a config: python tools/train.py CONFIG"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

import mmmtl  # noqa: F401  (applies the compat fixes before mmengine loads)
from mmmtl import compat
from mmmtl.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a few-shot model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from the given checkpoint, or without a value from '
        'the last checkpoint of the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--time-budget',
        type=float,
        metavar='MINUTES',
        help='end training after this many minutes of training iterations '
        '(TimeBudgetHook; replaces one in the config)')
    parser.add_argument(
        '--fit-schedule',
        action='store_true',
        help='with --time-budget: rescale max_iters, the schedulers and the '
        'validation / checkpoint intervals to the iterations that fit')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch'],
        default='none',
        help='job launcher (pytorch = torchrun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.fit_schedule and args.time_budget is None:
        parser.error('--fit-schedule needs --time-budget')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def setup_cfg(args, cfg: Config) -> Config:
    """Apply the command-line options shared by train / test; the runner is
    mmmtl's FewShotRunner (strict checkpoint loads, non-finite checks)
    unless the config names another ``runner_type``."""
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'runner_type' not in cfg:
        cfg.runner_type = 'FewShotRunner'
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.launcher == 'pytorch' and compat.init_cpu_distributed():
        cfg.model_wrapper_cfg = compat.cpu_model_wrapper_cfg()
    return cfg


def finish_distributed() -> None:
    """Tear the process group down before exit: a gloo group left to the
    interpreter's shutdown can abort a rank ("terminate called without an
    active exception") after the work is done."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    from mmmtl.registry import RUNNERS
    cfg = setup_cfg(args, Config.fromfile(args.config))
    if args.time_budget is not None:
        cfg.custom_hooks = [
            hook for hook in cfg.get('custom_hooks', [])
            if hook['type'] != 'TimeBudgetHook'
        ] + [
            dict(
                type='TimeBudgetHook',
                minutes=args.time_budget,
                fit_schedule=args.fit_schedule)
        ]
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume:
        cfg.resume = True
        cfg.load_from = args.resume
    runner = RUNNERS.build(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
