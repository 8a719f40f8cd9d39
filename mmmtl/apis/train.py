"""``tools/train.py``: train a few-shot classifier from a config."""
import argparse
import math
import os
import os.path as osp
import shlex

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank
from mmengine.runner import find_latest_checkpoint

from mmmtl.utils import (add_tensorboard, add_threads_option,
                         finish_distributed, register_all_modules, setup_cfg,
                         setup_threads, tune_allocator)
from mmmtl.utils.work_dir_lock import WorkDirLock

# the train loops whose config --time-budget turns into FewShotTrainLoop's
ITERATION_LOOPS = ('IterBasedTrainLoop', 'FewShotTrainLoop')


class RawDictAction(DictAction):
    """mmengine's DictAction that also keeps the option's words as typed
    (``<dest>_words``), to repeat them in the printed test command."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        words = getattr(namespace, self.dest + '_words', None) or []
        setattr(namespace, self.dest + '_words', words + list(values))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/train.py`` (also read by the docs
    check, tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description='Train a few-shot model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from the given checkpoint, or without a value from '
        'the last checkpoint of the work dir (an error if it has none)')
    parser.add_argument(
        '--resume-if-any',
        action='store_true',
        help='resume from the last checkpoint of the work dir if it has '
        'one, else start from scratch (for jobs that restart themselves)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=RawDictAction,
        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--time-budget',
        type=float,
        metavar='MINUTES',
        help='end training after this many minutes of training iterations '
        '(train_cfg becomes a FewShotTrainLoop with this time_budget)')
    parser.add_argument(
        '--fit-schedule',
        action='store_true',
        help='with --time-budget: rescale max_iters, the schedulers and the '
        'validation / checkpoint intervals to the iterations that fit')
    parser.add_argument(
        '--budget-clock',
        choices=['wall', 'cpu'],
        default='wall',
        help='with --time-budget: count wall time, or this process\'s CPU '
        'time (fair budgets on a machine shared with other jobs)')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also write TensorBoard event files (TensorboardVisBackend; '
        'needs pip install -e ".[tensorboard]")')
    add_threads_option(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch'],
        default='none',
        help='job launcher (pytorch = torchrun)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.time_budget is not None and not (math.isfinite(
            args.time_budget) and args.time_budget > 0):
        parser.error('--time-budget must be a finite number of minutes > 0, '
                     f'got {args.time_budget}')
    if args.resume_if_any and args.resume:
        parser.error('give --resume or --resume-if-any, not both')
    if args.fit_schedule and args.time_budget is None:
        parser.error('--fit-schedule needs --time-budget')
    if args.budget_clock != 'wall' and args.time_budget is None:
        parser.error('--budget-clock needs --time-budget')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def set_time_budget(cfg: Config, minutes: float, fit_schedule: bool,
                    clock: str) -> None:
    """Make the config's iteration-based train loop a FewShotTrainLoop with
    this time budget (replacing one the config had)."""
    loop = cfg.train_cfg
    if loop.get('type') not in ITERATION_LOOPS:
        raise TypeError(f'--time-budget needs an iteration-based train loop '
                        f"({' or '.join(ITERATION_LOOPS)}), got "
                        f"{loop.get('type')}")
    loop.update(
        type='FewShotTrainLoop',
        time_budget=minutes,
        fit_schedule=fit_schedule,
        clock=clock)


# top-level config keys that only training reads: the printed test command
# leaves their --cfg-options out
TRAIN_ONLY_KEYS = ('train_cfg', 'train_dataloader', 'val_cfg',
                   'val_dataloader', 'val_evaluator', 'param_scheduler',
                   'optim_wrapper', 'default_hooks', 'custom_hooks', 'resume',
                   'load_from')


def test_options(words) -> list:
    """The ``--cfg-options`` words of a training run that a meta-test of its
    checkpoint needs (model, test data, ...): those of
    :data:`TRAIN_ONLY_KEYS` are left out."""
    return [
        w for w in words or []
        if w.split('=', 1)[0].split('.', 1)[0] not in TRAIN_ONLY_KEYS
    ]


def shown_path(path: str) -> str:
    """``path`` relative to the current directory when it lies below it,
    else absolute."""
    relative = osp.relpath(path)
    return path if relative.startswith('..') else relative


def next_command(args, runner, test_tool: str = 'tools/test.py') -> str:
    """What to run next: the best checkpoint by meta-validation (the last
    checkpoint when no validation ran) and the command that meta-tests it
    with this run's config, work dir and the --cfg-options a test needs:
    ``mim test mmmtl`` when ``test_tool`` is the installed package's copy
    (``mmmtl/.mim/tools``, as ``mim train`` runs), else ``python
    test_tool``."""
    hub = runner.message_hub
    checkpoint = hub.get_info('best_ckpt') or hub.get_info('last_ckpt')
    if not checkpoint:
        return 'no checkpoint was saved (default_hooks.checkpoint)'
    kind = 'best' if hub.get_info('best_ckpt') else 'last (no validation ran)'
    checkpoint = shown_path(checkpoint)
    config = shown_path(osp.abspath(args.config))
    if '.mim' in osp.abspath(test_tool).split(os.sep):
        words = ['mim', 'test', 'mmmtl', config, '--checkpoint', checkpoint]
    else:
        words = ['python', shown_path(osp.abspath(test_tool)), config,
                 checkpoint]
    if args.work_dir:
        words += ['--work-dir', args.work_dir]
    options = test_options(getattr(args, 'cfg_options_words', None))
    if options:
        words += ['--cfg-options', *options]
    return (f'{kind} checkpoint: {checkpoint}\nmeta-test it with:\n'
            f'  {shlex.join(words)}')


def main(argv=None, test_tool: str = 'tools/test.py') -> None:
    """Train as ``tools/train.py`` (``argv``: its arguments); the printed
    next command runs ``test_tool`` (the tool's own sibling)."""
    args = parse_args(argv)
    setup_threads(args.threads)
    tune_allocator()
    register_all_modules()
    from mmmtl.registry import RUNNERS
    cfg = setup_cfg(args, Config.fromfile(args.config))
    if args.tensorboard:
        add_tensorboard(cfg)
    if args.time_budget is not None:
        set_time_budget(cfg, args.time_budget, args.fit_schedule,
                        args.budget_clock)
    if args.resume == 'auto' and not find_latest_checkpoint(cfg.work_dir):
        raise FileNotFoundError(
            f'--resume: nothing to resume in the work dir {cfg.work_dir} (no '
            'last_checkpoint file there); check --work-dir, give the '
            'checkpoint (--resume CKPT), or use --resume-if-any to start from '
            'scratch when there is none')
    if args.resume == 'auto' or args.resume_if_any:
        cfg.resume = True
        cfg.load_from = None
    elif args.resume:
        cfg.resume = True
        cfg.load_from = args.resume
    # one run per work dir: rank 0 holds the lock for all ranks
    lock = WorkDirLock(cfg.work_dir).acquire() if get_rank() == 0 else None
    try:
        runner = RUNNERS.build(cfg)
        runner.logger.info(f'torch threads: {torch.get_num_threads()}')
        runner.train()
        if get_rank() == 0:
            print(next_command(args, runner, test_tool), flush=True)
        del runner
    finally:
        if lock is not None:
            lock.release()
    finish_distributed()
