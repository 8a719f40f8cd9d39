import subprocess
import sys

import pytest
import torch

from mmmtl import compat


def test_torchvision_imports_and_nms_matches_hand_result():
    import torchvision  # noqa: F401  (raised RuntimeError before the fix)
    from torchvision.transforms import v2  # noqa: F401
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.], [0., 0., 9., 9.]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # IoU(3, 0) = 81/100 and IoU(0, 1) = 81/100 > 0.5 suppress boxes 0 and 1
    keep = torch.ops.torchvision.nms(boxes, scores, 0.5)
    assert keep.tolist() == [3, 2]


def test_torchvision_fix_is_noop_when_ops_load(monkeypatch):
    monkeypatch.delitem(sys.modules, 'torchvision', raising=False)
    monkeypatch.setattr(compat, '_torchvision_ops_loadable', lambda: True)
    assert compat.fix_torchvision_ops() is False


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only torch case')
def test_torchvision_fix_needed_and_applied_on_cpu_torch():
    bare = subprocess.run([sys.executable, '-c', 'import torchvision'],
                          capture_output=True, text=True)
    assert bare.returncode != 0
    assert 'torchvision::nms' in bare.stderr
    code = ('from mmmtl import compat; import torchvision;'
            "print(compat.APPLIED['torchvision_ops'])")
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == 'True'
