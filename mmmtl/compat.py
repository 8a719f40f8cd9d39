"""The workaround for torch 2.13 CPU builds with the only available torchvision.

The fix is applied by :func:`apply_all` at ``import mmmtl`` (see
``shared/notes/dependencies.md``) and is a no-op where it is not needed:

``torchvision_ops``: the torchvision wheel is CUDA-built; on a CPU torch its
op library fails to load and ``import torchvision`` raises ``operator
torchvision::nms does not exist``. We declare the two op schemas
torchvision's meta registrations need (``nms``, ``qnms``) with a pure-torch
CPU kernel, so transforms and models import. Image decoding uses PIL.

mmmtl's own policies live in :mod:`mmmtl.utils` (weights-only checkpoint
loading: ``mmmtl.utils.checkpoint``; torchrun on CPU ranks:
``mmmtl.utils.distributed``).
"""
import importlib.util
import os
import sys

import torch

APPLIED = {}


def _torchvision_ops_loadable() -> bool:
    """Whether torchvision's compiled op library loads into this torch."""
    spec = importlib.util.find_spec('torchvision')
    if spec is None or spec.submodule_search_locations is None:
        return True  # nothing to fix: torchvision absent
    if hasattr(torch.ops, 'torchvision') and hasattr(torch.ops.torchvision,
                                                     'nms'):
        return True
    folder = list(spec.submodule_search_locations)[0]
    libs = [f for f in os.listdir(folder) if f.startswith('_C.')]
    if not libs:
        return False
    try:
        torch.ops.load_library(os.path.join(folder, libs[0]))
    except (OSError, RuntimeError):
        return False
    return True


def _nms(dets: torch.Tensor, scores: torch.Tensor,
         iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression in plain torch (CPU fallback)."""
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    keep = []
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    for pos, i in enumerate(order.tolist()):
        if suppressed[pos]:
            continue
        keep.append(i)
        rest = order[pos + 1:]
        w = (torch.minimum(x2[i], x2[rest]) -
             torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) -
             torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[pos + 1:] |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long)


_TORCHVISION_LIB = None


def fix_torchvision_ops() -> bool:
    """Declare ``torchvision::nms/qnms`` when the op library cannot load.

    Returns True when the fix was needed and applied.
    """
    global _TORCHVISION_LIB
    if 'torchvision' in sys.modules or _torchvision_ops_loadable():
        return False
    lib = torch.library.Library('torchvision', 'DEF')
    lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) '
               '-> Tensor')
    lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) '
               '-> Tensor')
    lib.impl('nms', _nms, 'CPU')
    lib.impl('qnms', lambda d, s, t: _nms(d.dequantize(), s.dequantize(), t),
             'CPU')
    _TORCHVISION_LIB = lib  # the definitions live as long as this object
    return True


def apply_all() -> dict:
    """Apply the import-time fix once; returns whether it was needed."""
    if not APPLIED:
        APPLIED['torchvision_ops'] = fix_torchvision_ops()
    return APPLIED
