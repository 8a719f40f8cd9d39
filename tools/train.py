"""Train a few-shot classifier from a config: python tools/train.py CONFIG"""
import argparse
import os
import os.path as osp
import shlex
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank

import mmmtl  # noqa: F401  (applies the compat fixes before mmengine loads)
from mmmtl import compat
from mmmtl.utils import register_all_modules


class RawDictAction(DictAction):
    """mmengine's DictAction that also keeps the option's words as typed
    (``<dest>_words``), to repeat them in the printed test command."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        words = getattr(namespace, self.dest + '_words', None) or []
        setattr(namespace, self.dest + '_words', words + list(values))


def add_threads_option(parser) -> None:
    parser.add_argument(
        '--threads',
        type=int,
        metavar='N',
        help='torch CPU threads of this process (torch.set_num_threads); '
        'default: $OMP_NUM_THREADS if set, else 1 (two 2-thread jobs on a '
        '2-core machine run 5x slower each; see docs/getting_started.md)')


def setup_threads(threads: Optional[int]) -> int:
    """Apply ``--threads``; without it $OMP_NUM_THREADS when set, else one
    thread: measured on our 2 cores (benchmarks/thread_contention.py), 2
    threads make a job alone 1.25x faster but two such jobs side by side 5x
    slower each, where two 1-thread jobs lose 8%. Returns the count."""
    if threads is None and not os.environ.get('OMP_NUM_THREADS'):
        threads = 1
    if threads is not None:
        if threads < 1:
            raise ValueError(f'--threads must be >= 1, got {threads}')
        torch.set_num_threads(threads)
    return torch.get_num_threads()


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
        action=RawDictAction,
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
    args = parser.parse_args(argv)
    if args.fit_schedule and args.time_budget is None:
        parser.error('--fit-schedule needs --time-budget')
    if args.budget_clock != 'wall' and args.time_budget is None:
        parser.error('--budget-clock needs --time-budget')
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


def add_tensorboard(cfg: Config) -> None:
    """Add mmengine's TensorboardVisBackend to the config's visualizer
    (once), after checking that tensorboard can be imported."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as error:
        raise ImportError('--tensorboard needs the tensorboard package: pip '
                          'install -e ".[tensorboard]"') from error
    visualizer = cfg.get('visualizer') or dict(type='Visualizer')
    backends = list(
        visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any(b['type'] == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer


def next_command(args, runner) -> str:
    """What to run next: the best checkpoint by meta-validation (the last
    checkpoint when no validation ran) and the tools/test.py command that
    meta-tests it with this run's config, work dir and --cfg-options."""
    hub = runner.message_hub
    checkpoint = hub.get_info('best_ckpt') or hub.get_info('last_ckpt')
    if not checkpoint:
        return 'no checkpoint was saved (default_hooks.checkpoint)'
    kind = 'best' if hub.get_info('best_ckpt') else 'last (no validation ran)'
    test_tool = osp.relpath(osp.join(osp.dirname(osp.abspath(__file__)),
                                     'test.py'))
    words = ['python', test_tool, args.config, checkpoint]
    if args.work_dir:
        words += ['--work-dir', args.work_dir]
    if getattr(args, 'cfg_options_words', None):
        words += ['--cfg-options', *args.cfg_options_words]
    return (f'{kind} checkpoint: {checkpoint}\nmeta-test it with:\n'
            f'  {shlex.join(words)}')


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
    setup_threads(args.threads)
    register_all_modules()
    from mmmtl.registry import RUNNERS
    cfg = setup_cfg(args, Config.fromfile(args.config))
    if args.tensorboard:
        add_tensorboard(cfg)
    if args.time_budget is not None:
        cfg.custom_hooks = [
            hook for hook in cfg.get('custom_hooks', [])
            if hook['type'] != 'TimeBudgetHook'
        ] + [
            dict(
                type='TimeBudgetHook',
                minutes=args.time_budget,
                fit_schedule=args.fit_schedule,
                clock=args.budget_clock)
        ]
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume:
        cfg.resume = True
        cfg.load_from = args.resume
    runner = RUNNERS.build(cfg)
    runner.logger.info(f'torch threads: {torch.get_num_threads()}')
    runner.train()
    if get_rank() == 0:
        print(next_command(args, runner), flush=True)
    finish_distributed()


if __name__ == '__main__':
    main()
