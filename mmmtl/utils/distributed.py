"""torchrun on CPU ranks (gloo) and a clean process-group teardown."""
import os
from typing import Optional

import torch


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


def finish_distributed() -> None:
    """Tear the process group down before exit: a gloo group left to the
    interpreter's shutdown can abort a rank ("terminate called without an
    active exception") after the work is done. Call it once the runner is
    released (``del runner``): the garbage collection here then frees the
    DDP reducer's pending gloo work while the interpreter is still whole,
    not during its finalisation."""
    import gc

    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
