"""What ``tools/train.py`` and ``tools/test.py`` share: the thread count,
the work dir / runner / launcher of a config, TensorBoard."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from .distributed import cpu_model_wrapper_cfg, init_cpu_distributed


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


def setup_cfg(args, cfg: Config) -> Config:
    """Apply the command-line options shared by train / test
    (``cfg_options``, ``work_dir``, ``launcher``, ``config``); the runner is
    mmmtl's FewShotRunner (strict checkpoint loads, non-finite checks)
    unless the config names another ``runner_type``; on CPU ranks under
    torchrun a gloo group is started and DDP wraps without devices."""
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
    if args.launcher == 'pytorch' and init_cpu_distributed():
        cfg.model_wrapper_cfg = cpu_model_wrapper_cfg()
        # the group is gloo's; the runner's environment header says so
        env = cfg.get('env_cfg') or {}
        env['dist_cfg'] = dict(env.get('dist_cfg') or {}, backend='gloo')
        cfg.env_cfg = env
    return cfg


def add_tensorboard(cfg: Config) -> None:
    """Add a TensorBoard backend (:class:`FewShotTensorboardVisBackend`:
    mmengine's without the counters) to the config's visualizer (once),
    after checking that tensorboard can be imported."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as error:
        raise ImportError('--tensorboard needs the tensorboard package: pip '
                          'install -e ".[tensorboard]"') from error
    visualizer = cfg.get('visualizer') or dict(type='Visualizer')
    backends = list(
        visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any(b['type'].endswith('TensorboardVisBackend')
               for b in backends):
        backends.append(dict(type='FewShotTensorboardVisBackend'))
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer
