"""Milliseconds per forward + backward of batch-statistics batch norm on
the Conv4 Omniglot feature maps: BatchStatsNorm (two-stage channel means,
used by MAML / MTL because it is twice differentiable under vmap) against
one ``torch.var_mean`` over (0, 2, 3) (its previous form) and torch's fused
kernel (not usable there), in the same run.

    python benchmarks/batch_stats_norm_speed.py [--repeats 50] [--threads 1]

Prints a markdown table; ratios are against ``var_mean``.
"""
import argparse
import time

import torch
import torch.nn.functional as F

from mmmtl.models.batch_stats_norm import BatchStatsNorm

SHAPES = [(80, 64, 14, 14), (80, 64, 7, 7), (10, 64, 14, 14), (10, 64, 7, 7)]


def var_mean_norm(x):
    var, mean = torch.var_mean(x, [0, 2, 3], correction=0, keepdim=True)
    return (x - mean) * torch.rsqrt(var + 1e-5)


def fused_norm(x):
    return F.batch_norm(x, None, None, training=True)


def milliseconds(norm, x, repeats):
    for _ in range(5):
        norm(x).square().sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        norm(x).square().sum().backward()
    return (time.perf_counter() - start) / repeats * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ours = BatchStatsNorm(64, affine=False)
    print(f'torch {torch.__version__}, {args.threads} thread(s)\n')
    print('| shape | var_mean (ms) | BatchStatsNorm (ms) | fused (ms) '
          '| BatchStatsNorm / var_mean |')
    print('|---|---|---|---|---|')
    for shape in SHAPES:
        x = torch.randn(shape, requires_grad=True)
        base, new, fused = (
            milliseconds(norm, x, args.repeats)
            for norm in (var_mean_norm, ours, fused_norm))
        print(f'| {shape} | {base:.2f} | {new:.2f} | {fused:.2f} '
              f'| {new / base:.2f} |')


if __name__ == '__main__':
    main()
