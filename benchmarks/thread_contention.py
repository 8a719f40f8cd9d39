"""Seconds per training iteration of the README's config with N torch threads
per process, alone and beside more copies of itself (a busy shared machine),
to choose the thread default. Prints a table; never run by the tests.

    python benchmarks/thread_contention.py   # 1 and 2 threads x 1 and 2 copies
    python benchmarks/thread_contention.py --threads 1 2 4 --copies 1 2 3

Each cell starts COPIES identical trainings at once (tools/train.py --threads
N, no validation, no checkpoints) and reads the steady-state seconds per
iteration from each run's scalar log (the first --warmup iterations
dropped). Also reported: each process's CPU seconds per wall second, and the
machine's throughput, COPIES / (s/iter). Needs data/omniglot
(tools/data/prepare_omniglot.py); --cfg-options reach every training (e.g.
a data_root elsewhere). Run it on an otherwise idle machine: other jobs are
contention the table does not show.
"""
import argparse
import glob
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py'
LOG_INTERVAL = 10


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--copies', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--iters', type=int, default=300,
                        help='training iterations per run')
    parser.add_argument('--warmup', type=int, default=50,
                        help='iterations left out of the timing')
    parser.add_argument('--out', default='work_dirs/thread_contention')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args()
    if args.iters < args.warmup + 2 * LOG_INTERVAL:
        parser.error(f'--iters must be at least --warmup + '
                     f'{2 * LOG_INTERVAL}')
    return args


def train_command(args, threads, work_dir):
    return [
        sys.executable, 'tools/train.py', args.config, '--threads',
        str(threads), '--work-dir', work_dir, '--cfg-options',
        f'train_cfg.max_iters={args.iters}',
        f'param_scheduler.0.end={args.iters}',
        f'default_hooks.logger.interval={LOG_INTERVAL}',
        f'log_processor.window_size={LOG_INTERVAL}',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        'default_hooks.checkpoint.save_best=None',
        f'default_hooks.checkpoint.interval={10 * args.iters}',
        'default_hooks.curves.filename=None', *args.cfg_options
    ]


def seconds_per_iteration(work_dir, warmup):
    """Mean logged iteration time after ``warmup`` iterations."""
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        times = [
            r['train/time'] for r in map(json.loads, f)
            if 'train/time' in r and r['step'] > warmup
        ]
    return sum(times) / len(times)


def run_cell(args, threads, copies):
    """Start ``copies`` trainings at once; return per run (s/iter, CPU s
    per wall s)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    runs = []
    for k in range(copies):
        work_dir = osp.join(args.out, f'threads{threads}_copies{copies}_{k}')
        shutil.rmtree(work_dir, ignore_errors=True)
        log = open(work_dir + '.log', 'w')
        start = time.perf_counter()
        process = subprocess.Popen(
            train_command(args, threads, work_dir), cwd=REPO, env=env,
            stdout=log, stderr=subprocess.STDOUT)
        runs.append((process, work_dir, start, log))
    results = []
    for process, work_dir, start, log in runs:
        # os.wait4 (not Popen.wait) for the child's CPU time
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        log.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f'training failed, see {work_dir}.log')
        cpu = usage.ru_utime + usage.ru_stime
        results.append((seconds_per_iteration(work_dir, args.warmup),
                        cpu / wall))
    return results


def main():
    args = parse_args()
    args.out = osp.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    print(f'{args.config}: {args.iters} iterations per run, timing after '
          f'{args.warmup}; {os.cpu_count()} CPUs, load average '
          f'{os.getloadavg()[0]:.2f} at start')
    rows = []
    alone = {}
    for threads in args.threads:
        for copies in args.copies:
            results = run_cell(args, threads, copies)
            per_iter = sum(r[0] for r in results) / copies
            busy = sum(r[1] for r in results) / copies
            if copies == min(args.copies):  # the slowdown's reference
                alone[threads] = per_iter
            rows.append((threads, copies, per_iter, busy,
                         per_iter / alone[threads], copies / per_iter))
    print('\n| threads | copies | s / iteration | CPU s / wall s per '
          'process | slowdown | iterations / s, all copies |')
    print('|---|---|---|---|---|---|')
    for threads, copies, per_iter, busy, slowdown, rate in rows:
        print(f'| {threads} | {copies} | {per_iter:.4f} | {busy:.2f} | '
              f'{slowdown:.2f}x | {rate:.2f} |')
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f'\n(children used {usage.ru_utime + usage.ru_stime:.0f} CPU s)')


if __name__ == '__main__':
    main()
