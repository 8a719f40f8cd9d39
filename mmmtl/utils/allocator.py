"""Keep freed memory inside the process (glibc's ``mallopt``), so that
torch's CPU tensors are not handed back to the kernel and page-faulted in
again on every step.

glibc serves blocks above its mmap threshold (128 KiB, growing to at most
32 MiB) with fresh ``mmap`` calls and returns them with ``munmap``: each
activation of a training step then costs one page fault per 4 KiB when it is
first written. On our CPUs keeping the memory made a second-order MAML step
on 84x84 images 1.16x faster and steps on 28x28 ones up to 8%
(docs/meta_learners.md, "Speed"; ``benchmarks/maml_speed.py
--allocator``). The tools call :func:`tune_allocator` at start; the memory a
run has used stays reserved for it until it ends (its peak, as with any
caching allocator). ``MMMTL_MALLOC_TUNING=0`` leaves glibc's defaults.
"""
import ctypes
import ctypes.util
import os

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# blocks up to 1 GiB come from the heap, and up to 2 GiB of free memory at
# its top stays there
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process.

    Returns whether they were set: False on a C library without
    ``mallopt`` (not glibc: macOS, musl, Windows) or with
    ``MMMTL_MALLOC_TUNING=0``. Numbers are unaffected; only where memory
    comes from changes.

    Example:
        >>> from mmmtl.utils import tune_allocator
        >>> applied = tune_allocator()  # True under glibc (Linux)
    """
    if os.environ.get('MMMTL_MALLOC_TUNING', '1') == '0':
        return False
    name = ctypes.util.find_library('c')
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
