"""mmmtl.utils: mmengine's checkpoint loader is mmmtl's weights-only one
after ``import mmmtl``; the CPU torchrun helpers; the paired comparison of
two meta-tests."""
import copy
import pickle

import pytest
import torch

from conftest import free_port
from mmmtl.utils import cpu_model_wrapper_cfg, init_cpu_distributed


def test_mmengine_resume_checkpoint_loads(tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': HistoryBuffer([1.0], [1]),
                'state_dict': {'w': torch.ones(2)}}, path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert isinstance(ckpt['message_hub'], HistoryBuffer)


class _Evil:

    def __reduce__(self):
        return (print, ('pwned', ))


def test_checkpoint_loading_stays_weights_only(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    safe = tmp_path / 'safe.pth'
    torch.save({'w': torch.arange(3.)}, safe)
    assert torch.equal(
        _load_checkpoint(str(safe), map_location='cpu')['w'], torch.arange(3.))
    evil = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, evil)
    with pytest.raises(pickle.UnpicklingError, match='evil.pth'):
        _load_checkpoint(str(evil), map_location='cpu')


def test_cpu_distributed_helpers(monkeypatch):
    """Outside torchrun nothing starts. Under torchrun's environment (one
    rank here) a gloo group starts once, the wrapper config builds a DDP
    model whose gradients are the plain model's, and finish_distributed
    tears the group down."""
    import torch.distributed as dist
    from mmengine.registry import MODEL_WRAPPERS
    from mmmtl.utils.distributed import finish_distributed
    monkeypatch.delenv('RANK', raising=False)
    assert init_cpu_distributed() is False  # not under torchrun
    assert not dist.is_initialized()
    if torch.cuda.is_available():
        assert cpu_model_wrapper_cfg() is None
        return
    with free_port() as port:
        for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                               MASTER_ADDR='127.0.0.1',
                               MASTER_PORT=str(port)).items():
            monkeypatch.setenv(key, value)
        try:
            assert init_cpu_distributed() is True
            assert dist.is_initialized()
            assert dist.get_backend() == 'gloo'
            assert init_cpu_distributed() is True  # the same group
            torch.manual_seed(0)
            model = torch.nn.Linear(3, 2)
            plain = copy.deepcopy(model)
            wrapped = MODEL_WRAPPERS.build(
                dict(cpu_model_wrapper_cfg(), module=model))
            x = torch.randn(4, 3)
            wrapped(x).square().sum().backward()
            plain(x).square().sum().backward()
            for p, q in zip(model.parameters(), plain.parameters()):
                assert torch.allclose(p.grad, q.grad)
            del wrapped
        finally:
            finish_distributed()
    assert not dist.is_initialized()


def test_paired_difference_by_hand():
    from mmmtl.utils.paired_comparison import paired_difference
    # differences 50, 0, -50: mean 0, population std sqrt(5000 / 3)
    diff = paired_difference([100.0, 50.0, 0.0], [50.0, 50.0, 50.0])
    assert diff['paired_diff_mean'] == 0.0
    assert diff['paired_diff_ci95'] == pytest.approx(
        1.96 * (5000 / 3)**0.5 / 3**0.5, rel=1e-12)
    assert paired_difference([80.0, 60.0], [70.0, 70.0]) == dict(
        paired_diff_mean=0.0, paired_diff_ci95=pytest.approx(1.96 * 10 / 2**.5))
    with pytest.raises(ValueError, match='3 accuracies vs 2'):
        paired_difference([1.0, 2.0, 3.0], [1.0, 2.0])


def test_pairing_refuses_other_episodes(tmp_path):
    import json

    from mmmtl.utils.paired_comparison import pairable_cells
    cell = dict(num_ways=5, num_shots=1, num_queries=15, num_episodes=2,
                seed=0, split='test')
    path = str(tmp_path / 'other.json')

    def other(**changes):
        row = {**cell, 'episode_accuracies': [50.0, 60.0], **changes}
        with open(path, 'w') as f:
            json.dump(dict(results=[row]), f)

    other()
    assert pairable_cells([cell], path)[5, 1]['episode_accuracies'] == [
        50.0, 60.0]
    other(split='val')
    with pytest.raises(ValueError, match="differs in split \\('val' there"):
        pairable_cells([cell], path)
    other(episode_accuracies=None)
    with pytest.raises(ValueError, match='no per-episode accuracies'):
        pairable_cells([cell], path)
    other(num_shots=5)
    with pytest.raises(ValueError, match='no \\(ways, shots\\) cell'):
        pairable_cells([cell], path)


def test_paired_rows_over_the_shared_episodes():
    """A 2-episode run pairs with the first 2 episodes of a 3-episode one
    (episodes are keyed by (seed, index)); other seeds, queries or splits
    are not paired."""
    import numpy as np

    from mmmtl.datasets.episodes import sample_episode
    from mmmtl.utils.paired_comparison import paired_rows
    pools = [np.arange(10 * c, 10 * c + 10) for c in range(6)]
    short = [sample_episode(pools, 3, 1, 2, 0, i) for i in range(2)]
    long = [sample_episode(pools, 3, 1, 2, 0, i) for i in range(3)]
    for a, b in zip(short, long):  # the premise: the same first episodes
        assert np.array_equal(a.support, b.support)
        assert np.array_equal(a.query, b.query)
    row = dict(num_ways=5, num_shots=1, num_queries=15, num_episodes=3,
               seed=0, split='test', episode_accuracies=[80.0, 60.0, 0.0])
    other = dict(row, num_episodes=2, episode_accuracies=[70.0, 70.0])
    # differences +10, -10 (the third episode left out): mean 0, std 10
    assert paired_rows(row, other) == (0.0, pytest.approx(1.96 * 10 / 2**.5),
                                       2)
    assert paired_rows(other, row)[2] == 2
    for field, value in (('seed', 1), ('num_queries', 5), ('split', 'val'),
                         ('num_shots', 5), ('episode_accuracies', None)):
        assert paired_rows(row, dict(other, **{field: value})) is None


ALLOCATOR_PROBE = '''
import ctypes
import ctypes.util
import torch
from mmmtl.utils import tune_allocator


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
        'fsmblks', 'uordblks', 'fordblks', 'keepcost')]


libc = ctypes.CDLL(ctypes.util.find_library('c'))
libc.mallinfo2.restype = MallInfo2
print(tune_allocator())
before = libc.mallinfo2()
block = torch.ones(64 * 2**20 // 4)  # 64 MiB, above glibc's mmap ceiling
during = libc.mallinfo2()
del block
after = libc.mallinfo2()
mib = 2**20
print((during.hblkhd - before.hblkhd) / mib,  # served by mmap
      (during.arena - before.arena) / mib,  # served by the heap
      (after.fordblks - before.fordblks) / mib)  # kept free in the heap
'''


@pytest.mark.parametrize('setting', ['1', '0'])
def test_tune_allocator_keeps_freed_memory(setting):
    """With the tuning, glibc serves a 64 MiB tensor from its heap and
    keeps it there once freed, for the next one (no munmap, no page faults
    to fill it again); with MMMTL_MALLOC_TUNING=0 it maps the tensor on its
    own (mmap) and unmaps it when freed. Read from glibc's own accounting
    (mallinfo2: mapped bytes, heap size, free heap bytes), not from the
    process's resident size, which other allocations move. glibc >= 2.33
    on Linux only: mallopt and mallinfo2 are glibc's."""
    import os
    import platform
    import subprocess
    import sys
    libc, version = platform.libc_ver()
    if libc != 'glibc' or tuple(map(int, version.split('.')[:2])) < (2, 33):
        pytest.skip(f'needs glibc >= 2.33 (mallinfo2), got {libc} '
                    f'{version}')
    out = subprocess.run([sys.executable, '-c', ALLOCATOR_PROBE],
                         env=dict(os.environ, MMMTL_MALLOC_TUNING=setting),
                         capture_output=True, text=True, check=True).stdout
    applied, mapped, heap, kept = out.split()
    assert applied == ('True' if setting == '1' else 'False')
    if setting == '1':
        assert float(mapped) == 0
        assert float(heap) >= 64 and float(kept) >= 64
    else:
        assert float(mapped) >= 64
        assert float(heap) < 1 and float(kept) < 1
