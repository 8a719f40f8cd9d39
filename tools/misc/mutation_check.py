"""Plant known bugs one at a time in a scratch copy of the repository and run
the tests meant to catch each: a mutation the tests survive marks a test
that would pass with the behaviour broken.

    python tools/misc/mutation_check.py                  # every mutation
    python tools/misc/mutation_check.py --only conv4-no-relu maml++-step0-rate
    python tools/misc/mutation_check.py --list

The working tree (committed or not; without .git, data/, build outputs,
work_dirs/ and virtual environments) is copied once to a temporary folder.
The test files of every mutation must pass there unmutated; then each
mutation replaces its original snippet (which must occur exactly once in
its file), runs its test files with ``pytest -x`` on one thread and
restores the file. A mutation is killed when pytest reports a failed test
(exit status 1). Minutes, not run by CI (docs/DEVELOPING.md). The exit
status is 1 when a mutation survived or errored.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, NamedTuple, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# not copied: at the top of the tree only (tests/data and tools/data are
# needed); __pycache__ everywhere
IGNORED = ('.git', 'data', 'work_dirs', '.venv*', '*.egg-info',
           '.pytest_cache', 'build')


class Mutation(NamedTuple):
    """A planted bug: in ``path``, ``original`` becomes ``mutated``;
    ``tests`` are the test files that must then fail."""
    name: str
    path: str
    original: str
    mutated: str
    tests: Sequence[str]


MUTATIONS = [
    Mutation(
        'maml++-step0-rate', 'mmmtl/models/inner_loop.py',
        'return value[step if value.shape[0] > 1 else 0]',
        'return value[0]',
        ['tests/test_inner_loop.py', 'tests/test_maml.py']),
    Mutation(
        'resnet12-act-before-sum', 'mmmtl/models/backbones/resnet12.py',
        'out = self.act(out + self.shortcut(x))',
        'out = self.act(out) + self.shortcut(x)',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'resnet12-fixed-slope', 'mmmtl/models/backbones/resnet12.py',
        'self.act = nn.LeakyReLU(negative_slope)',
        'self.act = nn.LeakyReLU(0.1)',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'resnet12-drop-before-pool', 'mmmtl/models/backbones/resnet12.py',
        'return self.drop(self.pool(out))',
        'return self.pool(self.drop(out))',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'dropblock-in-eval', 'mmmtl/models/backbones/resnet12.py',
        'if not self.training or self.drop_prob == 0.0:',
        'if self.drop_prob == 0.0:',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'conv4-no-relu', 'mmmtl/models/backbones/conv4.py',
        'nn.ReLU(inplace=True)', 'nn.Identity()',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'wrn-dropout-after-conv2', 'mmmtl/models/backbones/wrn.py',
        '        if self.drop_rate > 0:\n'
        '            out = F.dropout(out, p=self.drop_rate, '
        'training=self.training)\n'
        '        return self.conv2(out) + identity',
        '        out = self.conv2(out)\n'
        '        if self.drop_rate > 0:\n'
        '            out = F.dropout(out, p=self.drop_rate, '
        'training=self.training)\n'
        '        return out + identity',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'mmpretrain-last-stage', 'mmmtl/models/backbones/'
        'mmpretrain_backbone.py',
        'out = out[self.out_index]', 'out = out[-1]',
        ['tests/test_backbone_forwards.py']),
    Mutation(
        'adapt-returns-shared-weights',
        'mmmtl/models/classifiers/gradient_meta_learner.py',
        'return {n: p.detach() for n, p in fast.items()}',
        'return {n: p.detach() for n, p in params.items()}',
        ['tests/test_apis.py']),
    Mutation(
        'running-bn-batch-stats-at-test',
        'mmmtl/models/classifiers/gradient_meta_learner.py',
        'and m.training and m.track_running_stats\n'
        '        ]\n'
        '        for m in frozen:\n'
        '            m.track_running_stats = False\n',
        'and m.track_running_stats\n'
        '        ]\n'
        '        for m in frozen:\n'
        '            m.track_running_stats = False\n'
        '            m.train()\n',
        ['tests/test_maml.py']),
    Mutation(
        'meta-test-scores-support', 'mmmtl/models/classifiers/base.py',
        'in zip(*episodes[:4]):', 'in zip(*(episodes[:2] * 2)):',
        ['tests/test_transfer.py']),
    Mutation(
        'transfer-skips-finetuning', 'mmmtl/models/classifiers/transfer.py',
        "fast = finetune_head(head, params, feats, labels, cfg['num_steps'],"
        "\n                             cfg['lr'])",
        'fast = params',
        ['tests/test_transfer.py']),
    Mutation(
        'sampler-rank-blocks', 'mmmtl/datasets/samplers.py',
        'index = self.rank\n', 'index = self.rank * self.world_size\n',
        ['tests/test_samplers.py']),
    Mutation(
        'metric-sorts-per-rank',
        'mmmtl/evaluation/metrics/few_shot_accuracy.py',
        'self.results.append(correct.float().mean().item() * 100)\n',
        'self.results.append(correct.float().mean().item() * 100)\n'
        '            self.results.sort()\n',
        ['tests/test_tools.py::test_two_cpu_ranks_train_and_test']),
    Mutation(
        'maml-meta-loss-negated', 'mmmtl/models/classifiers/maml.py',
        'logs = dict(loss=losses.mean(),', 'logs = dict(loss=-losses.mean(),',
        ['tests/test_learning_signal.py']),
    Mutation(
        'protonet-trains-on-shifted-labels',
        'mmmtl/models/classifiers/protonet.py',
        'losses.append(F.cross_entropy(scores, query_y))',
        'losses.append(F.cross_entropy(scores, (query_y + 1) % '
        'episodes.num_ways))',
        ['tests/test_learning_signal.py']),
    Mutation(
        'episode-query-labels-interleaved', 'mmmtl/datasets/episodes.py',
        'np.repeat(np.arange(self.num_ways), self.num_queries)',
        'np.tile(np.arange(self.num_ways), self.num_queries)',
        ['tests/test_datasets_mini_imagenet.py::test_episodes']),
    Mutation(
        'colour-jitter-brightness', 'configs/_base_/datasets/rgb84.py',
        'brightness=0.4,', 'brightness=0.2,',
        ['tests/test_datasets_mini_imagenet.py::'
         'test_mmpretrain_transforms_build_through_mmmtl']),
    Mutation(
        'bgr-to-rgb-noop', 'mmmtl/datasets/transforms.py',
        'cv2.cvtColor(img, cv2.COLOR_BGR2RGB)', 'img',
        ['tests/test_datasets_tiered_imagenet.py::test_config_pipelines']),
    Mutation(
        'curves-blank-training-panels',
        'mmmtl/engine/hooks/curves_hook.py',
        'ax.plot(*zip(*points), label=key)', 'ax.plot([], [], label=key)',
        ['tests/test_run_outputs.py::test_training_curves_png_is_written']),
    Mutation(
        'native-bf16-when-emulated',
        'mmmtl/engine/optim_wrappers/autocast_optim_wrapper.py',
        '                    and supported()\n'
        '                    and (torch.cpu._is_avx512_bf16_supported()\n'
        '                         or torch.cpu._is_amx_tile_supported()))',
        '                    and supported())',
        ['tests/test_autocast_optim_wrapper.py']),
    Mutation(
        'cpu-dist-no-group', 'mmmtl/utils/distributed.py',
        "dist.init_process_group('gloo')", 'pass',
        ['tests/test_utils.py::test_cpu_distributed_helpers']),
    Mutation(
        'allocator-low-mmap-threshold', 'mmmtl/utils/allocator.py',
        'mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)',
        'mallopt(M_MMAP_THRESHOLD, 1 << 20)',
        ['tests/test_utils.py::test_tune_allocator_keeps_freed_memory']),
    Mutation(
        'wheel-without-base-configs', 'setup.py',
        "    '.mim/configs/_base_/*/*.py',\n", '',
        ['tests/test_mim.py']),
]


def copy_tree(dest: str) -> None:
    """The working tree at ``dest``, without version control, data and
    build outputs."""
    top = shutil.ignore_patterns(*IGNORED)

    def ignore(folder, names):
        return (top(folder, names) if osp.samefile(folder, ROOT) else
                set()) | {n for n in names if n == '__pycache__'}

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def test_env(scratch: str) -> Dict[str, str]:
    """The environment of the test runs: the scratch copy imported as
    mmmtl, one thread, and the real Omniglot where this checkout finds it
    (tests/conftest.py looks next to the repository otherwise)."""
    env = dict(os.environ, PYTHONPATH=scratch, OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    omniglot = osp.join(ROOT, '..', 'shared', 'data', 'omniglot')
    if 'MMMTL_OMNIGLOT' not in env and osp.isdir(omniglot):
        env['MMMTL_OMNIGLOT'] = osp.abspath(omniglot)
    return env


def run_tests(scratch: str, tests: Sequence[str], timeout: float) -> int:
    """pytest's exit status on ``tests`` in ``scratch`` (-1: timed out)."""
    cmd = [sys.executable, '-m', 'pytest', '-x', '-q', '-p',
           'no:cacheprovider', *tests]
    try:
        return subprocess.run(cmd, cwd=scratch, env=test_env(scratch),
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return -1


def apply(scratch: str, mutation: Mutation) -> str:
    """Write the mutated file; return its original text."""
    path = osp.join(scratch, mutation.path)
    with open(path) as f:
        text = f.read()
    count = text.count(mutation.original)
    if count != 1:
        raise ValueError(f'{mutation.name}: the original snippet occurs '
                         f'{count} times in {mutation.path} (must be once): '
                         f'{mutation.original!r}')
    with open(path, 'w') as f:
        f.write(text.replace(mutation.original, mutation.mutated))
    return text


def check(mutations: List[Mutation], timeout: float) -> List[tuple]:
    """(mutation, verdict, seconds) for each mutation."""
    rows = []
    with tempfile.TemporaryDirectory(prefix='mmmtl_mutation_') as tmp:
        scratch = osp.join(tmp, 'repo')
        copy_tree(scratch)
        tests = sorted({t for m in mutations for t in m.tests})
        print(f'unmutated: {" ".join(tests)}', file=sys.stderr, flush=True)
        status = run_tests(scratch, tests, timeout * len(tests))
        if status != 0:
            sys.exit(f'the unmutated copy fails its tests (pytest exit '
                     f'status {status}): {" ".join(tests)}')
        for mutation in mutations:
            text = apply(scratch, mutation)
            start = time.time()
            try:
                status = run_tests(scratch, mutation.tests, timeout)
            finally:
                with open(osp.join(scratch, mutation.path), 'w') as f:
                    f.write(text)
            verdict = {0: 'SURVIVED', 1: 'killed', -1: 'timed out'}.get(
                status, f'error (pytest exit status {status})')
            rows.append((mutation, verdict, time.time() - start))
            print(f'{mutation.name}: {verdict}', file=sys.stderr, flush=True)
    return rows


def print_table(rows: List[tuple]) -> None:
    print('| mutation | file | tests | result | seconds |')
    print('|---|---|---|---|---|')
    for mutation, verdict, seconds in rows:
        tests = ', '.join(t[len('tests/'):] for t in mutation.tests)
        print(f'| {mutation.name} | {mutation.path} | {tests} | {verdict} '
              f'| {seconds:.0f} |')
    killed = sum(verdict == 'killed' for _, verdict, _ in rows)
    print(f'\n{killed} of {len(rows)} mutations killed')


def build_parser() -> argparse.ArgumentParser:
    """The command line (also read by the docs check,
    tests/test_docs.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', metavar='NAME',
                        help='run these mutations only')
    parser.add_argument('--list', action='store_true',
                        help='list the mutations and exit')
    parser.add_argument('--timeout', type=float, default=600,
                        help='seconds per test run (default 600)')
    return parser


def main() -> None:
    args = build_parser().parse_args()
    names = [m.name for m in MUTATIONS]
    if args.list:
        for m in MUTATIONS:
            print(f'{m.name}: {m.path} ({", ".join(m.tests)})')
        return
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        parser.error(f'unknown mutation(s) {unknown}; see --list')
    mutations = [m for m in MUTATIONS if not args.only or m.name in args.only]
    rows = check(mutations, args.timeout)
    print_table(rows)
    if any(verdict != 'killed' for _, verdict, _ in rows):
        sys.exit(1)


if __name__ == '__main__':
    main()
