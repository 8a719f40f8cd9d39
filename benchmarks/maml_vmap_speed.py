"""Seconds per second-order MAML meta-step: tasks batched with
torch.func.vmap vs a per-task loop, on the same tasks in the same run.

    python benchmarks/maml_vmap_speed.py [--tasks 8] [--ways 5] [--shots 1]
        [--queries 1] [--steps 1] [--repeats 5] [--threads N]

Prints a markdown table (wall and process-CPU seconds per meta-step, median
over the repeats, after one warm-up step per path).
"""
import argparse
import statistics
import time

import torch

import mmmtl  # noqa: F401
from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', type=int, default=8, help='meta-batch T')
    parser.add_argument('--ways', type=int, default=5)
    parser.add_argument('--shots', type=int, default=1)
    parser.add_argument('--queries', type=int, default=1)
    parser.add_argument('--steps', type=int, default=1, help='inner steps')
    parser.add_argument('--size', type=int, default=28, help='image side')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, help='torch threads')
    return parser.parse_args()


def build_model(args):
    """The Omniglot MAML of configs/_base_/models/maml_conv4.py."""
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MAML',
            backbone=dict(
                type='Conv4',
                in_channels=1,
                track_running_stats=False,
                pool=False,
                stride=2),
            head=dict(type='LinearHead', in_channels=256),
            num_ways=args.ways,
            num_inner_steps=args.steps,
            inner_lr=2.0))


def meta_batch(args):
    gen = torch.Generator().manual_seed(0)
    per_task = args.ways * (args.shots + args.queries)
    inputs = torch.rand(args.tasks, per_task, 1, args.size, args.size,
                        generator=gen)
    labels = torch.cat([
        torch.arange(args.ways).repeat_interleave(args.shots),
        torch.arange(args.ways).repeat_interleave(args.queries)
    ]).repeat(args.tasks, 1)
    return inputs, dict(
        episode_label=labels,
        num_ways=args.ways,
        num_shots=args.shots,
        num_queries=args.queries)


def time_steps(model, inputs, samples, repeats):
    """(wall, cpu) seconds per meta-step (loss + backward), medians."""
    walls, cpus = [], []
    for i in range(repeats + 1):
        model.zero_grad()
        wall, cpu = time.perf_counter(), time.process_time()
        model.loss(inputs, samples)['loss'].backward()
        if i:  # the first step warms up
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    model = build_model(args)
    inputs, samples = meta_batch(args)
    rows = {}
    for name, vmap in (('vmap', True), ('loop', False)):
        model.vmap = vmap
        rows[name] = time_steps(model, inputs, samples, args.repeats)
    print(f'second-order MAML, Conv4 (stride 2, 64 filters), '
          f'{args.size}x{args.size}, T={args.tasks} tasks of {args.ways}-way '
          f'{args.shots}-shot {args.queries}-query, {args.steps} inner '
          f'step(s), {torch.get_num_threads()} thread(s), median of '
          f'{args.repeats}\n')
    print('| path | wall s / meta-step | CPU s / meta-step |')
    print('|---|---|---|')
    for name, (wall, cpu) in rows.items():
        print(f'| {name} | {wall:.3f} | {cpu:.3f} |')
    loop_wall, loop_cpu = rows['loop']
    vmap_wall, vmap_cpu = rows['vmap']
    print(f'| loop / vmap | {loop_wall / vmap_wall:.2f}x | '
          f'{loop_cpu / vmap_cpu:.2f}x |')


if __name__ == '__main__':
    main()
