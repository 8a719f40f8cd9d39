"""What ``tools/train.py`` and ``tools/test.py`` share: the thread count,
the work dir / runner / launcher of a config, TensorBoard."""
import difflib
import inspect
import math
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


# top-level config keys that mmmtl reads besides the Runner's arguments
MMMTL_TOP_LEVEL_KEYS = ('runner_type', 'load_from_strict', 'dist_params')


def _known_top_level_keys(cfg: Config) -> set:
    from mmengine.runner import Runner
    return (set(cfg.keys()) | set(MMMTL_TOP_LEVEL_KEYS)
            | set(inspect.signature(Runner.__init__).parameters) - {'self'})


def _type_error(key: str, old, new) -> Optional[str]:
    """Why ``new`` cannot replace the config's ``old`` value of ``key``
    (None when it can): a number for a number, a bool for a bool; None
    (``key=None``: unset) replaces anything."""
    want = None
    if new is None:
        return None
    if isinstance(old, bool):
        if not isinstance(new, bool):
            want = 'True or False'
    elif isinstance(old, int):
        if isinstance(new, bool) or not isinstance(new, (int, float)) or (
                isinstance(new, float) and not (math.isfinite(new)
                                                and new.is_integer())):
            want = 'an integer'
    elif isinstance(old, float):
        if isinstance(new, bool) or not isinstance(new, (int, float)):
            want = 'a number'
    if want is None:
        return None
    return (f'--cfg-options {key}={new!r}: the config\'s {key} is '
            f'{old!r}, so the value must be {want}')


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` that would be ignored or fail later without
    the key: a top-level key that neither the config nor the Runner knows
    (a misspelling; the nearest known keys are suggested) and a value whose
    type does not fit the config's value (``max_iters=abc``,
    ``randomness.seed=1.5``). Errors name the key and the value."""
    known = _known_top_level_keys(cfg)
    problems = []
    for key, value in options.items():
        top = key.split('.')[0]
        if top not in known:
            near = difflib.get_close_matches(top, sorted(known), n=3)
            hint = f' (did you mean {", ".join(near)}?)' if near else ''
            problems.append(f'--cfg-options {key}: {top!r} is not a key of '
                            f'{cfg.filename} nor a Runner argument{hint}')
            continue
        old = cfg.get(top)
        for part in key.split('.')[1:]:
            if not isinstance(old, dict) or part not in old:
                old = None
                break
            old = old[part]
        message = None if old is None else _type_error(key, old, value)
        if message:
            problems.append(message)
    if problems:
        raise ValueError('; '.join(problems))


def setup_cfg(args, cfg: Config) -> Config:
    """Apply the command-line options shared by train / test
    (``cfg_options``, ``work_dir``, ``launcher``, ``config``); the runner is
    mmmtl's FewShotRunner (strict checkpoint loads, non-finite checks)
    unless the config names another ``runner_type``; on CPU ranks under
    torchrun a gloo group is started and DDP wraps without devices."""
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
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
