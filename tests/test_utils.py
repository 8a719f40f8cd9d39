"""mmmtl.utils: mmengine's checkpoint loader is mmmtl's weights-only one
after ``import mmmtl``; the CPU torchrun helpers."""
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
