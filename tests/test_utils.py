"""mmmtl.utils: mmengine's checkpoint loader is mmmtl's weights-only one
after ``import mmmtl``; the CPU torchrun helpers; the paired comparison of
two meta-tests."""
import pickle

import pytest
import torch

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
    monkeypatch.delenv('RANK', raising=False)
    assert init_cpu_distributed() is False  # not under torchrun
    if torch.cuda.is_available():
        assert cpu_model_wrapper_cfg() is None
    else:
        cfg = cpu_model_wrapper_cfg()
        assert cfg['device_ids'] is None
        assert cfg['type'] == 'MMDistributedDataParallel'


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


ALLOCATOR_PROBE = '''
import torch
from mmmtl.utils import tune_allocator
def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20
print(tune_allocator())
before = rss_mb()
block = torch.ones(64 * 2**20 // 4)  # 64 MiB, above glibc's mmap ceiling
del block
print(rss_mb() - before)
'''


@pytest.mark.parametrize('setting', ['1', '0'])
def test_tune_allocator_keeps_freed_memory(setting):
    """With the tuning, a freed 64 MiB tensor stays in the process for the
    next one (no munmap, no page faults to fill it again); with
    MMMTL_MALLOC_TUNING=0 glibc returns it to the kernel."""
    import os
    import platform
    import subprocess
    import sys
    if (platform.libc_ver()[0] != 'glibc'
            or not os.path.exists('/proc/self/statm')):
        pytest.skip('needs Linux with glibc')
    out = subprocess.run([sys.executable, '-c', ALLOCATOR_PROBE],
                         env=dict(os.environ, MMMTL_MALLOC_TUNING=setting),
                         capture_output=True, text=True, check=True).stdout
    applied, kept = out.split()
    assert applied == ('True' if setting == '1' else 'False')
    if setting == '1':
        assert float(kept) > 60
    else:
        assert float(kept) < 4
