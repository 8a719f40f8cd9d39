"""Workarounds for torch 2.13 CPU builds with the only available torchvision.

Each fix is applied by :func:`apply_all` at ``import mmmtl`` (see
``shared/notes/dependencies.md``); 1 and 3 are no-ops where they are not
needed, 2 applies to every torch (an older one would unpickle fully):

1. ``torchvision_ops``: the torchvision wheel is CUDA-built; on a CPU torch its
   op library fails to load and ``import torchvision`` raises
   ``operator torchvision::nms does not exist``. We declare the two op schemas
   torchvision's meta registrations need (``nms``, ``qnms``) with a pure-torch
   CPU kernel, so transforms and models import. Image decoding uses PIL.
2. ``checkpoint_loader``: mmengine 0.10.7 calls ``torch.load`` without
   ``weights_only``; torch >= 2.6 then loads weights-only and refuses the
   message hub of mmengine's own checkpoints (resume fails), while an older
   torch would fully unpickle any file (a ``.pth`` can run code). mmengine's
   loader for local files is replaced by
   :func:`mmmtl.utils.checkpoint.load_checkpoint_file`: weights-only, with
   the few types our checkpoints hold allowed for that call only, and errors
   that name the file. torch's own default is not changed.
3. ``cpu_distributed``: ``launcher='pytorch'`` on a machine without CUDA calls
   ``torch.cuda.set_device``; :func:`init_cpu_distributed` starts a gloo
   process group before the Runner is built, and
   :func:`cpu_model_wrapper_cfg` gives a DDP wrapper without ``device_ids``.
"""
import importlib.util
import os
import sys
from typing import Optional

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


def fix_checkpoint_loader() -> bool:
    """Make mmengine load local checkpoint files weights-only with mmmtl's
    allow-list (``load_from``, ``--resume``, ``Pretrained`` init,
    ``mmengine.runner.load_checkpoint``)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmmtl.utils.checkpoint import load_checkpoint_file
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_checkpoint_file, force=True)
    return True


def init_cpu_distributed() -> bool:
    """Start a gloo process group for torchrun on a machine without CUDA.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``; when
    the group already exists the Runner skips its own initialisation.
    Returns True when it started the group.
    """
    import torch.distributed as dist
    if torch.cuda.is_available() or 'RANK' not in os.environ:
        return False
    if not dist.is_initialized():
        dist.init_process_group('gloo')
    return True


def cpu_model_wrapper_cfg() -> Optional[dict]:
    """DDP wrapper config for CPU ranks (no ``device_ids``), else None."""
    if torch.cuda.is_available():
        return None
    return dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False)


def apply_all() -> dict:
    """Apply the import-time fixes once; returns which ones were needed."""
    if not APPLIED:
        APPLIED['torchvision_ops'] = fix_torchvision_ops()
        APPLIED['checkpoint_loader'] = fix_checkpoint_loader()
    return APPLIED
