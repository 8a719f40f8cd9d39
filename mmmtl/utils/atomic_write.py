"""Writing files atomically: a full disk or a crash never leaves a
truncated file under the real name.

:func:`atomic_write` writes to a temporary file in the same folder, flushes
and fsyncs it, then ``os.replace``-s it over the real name (atomic on POSIX
file systems); on any failure the temporary file is removed and the error
names the real path. :class:`AtomicLocalBackend` makes mmengine's local
file backend write that way, so every checkpoint (``iter_N.pth``,
``epoch_N.pth``, ``best_*.pth``) and the ``last_checkpoint`` file the
``CheckpointHook`` writes are atomic; :func:`register_atomic_backend` runs
at ``import mmmtl``.
"""
import errno
import os
import os.path as osp
import tempfile
from typing import IO, Callable, Union

from mmengine.fileio.backends import LocalBackend, register_backend


def atomic_write(path: Union[str, os.PathLike],
                 write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(f)`` on a temporary binary file next to ``path``, fsync
    it and rename it to ``path``.

    Raises an OSError naming ``path`` (its errno kept, e.g. ENOSPC) when
    the folder cannot be written or the write fails; ``path`` is then left
    as it was.

    Example:
        >>> import tempfile, os.path as osp
        >>> path = osp.join(tempfile.mkdtemp(), 'a.bin')
        >>> atomic_write(path, lambda f: f.write(b'data'))
        >>> open(path, 'rb').read()
        b'data'
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    except OSError as err:
        raise OSError(err.errno, f'cannot write {path}: {err.strerror} '
                      f'(folder {folder})') from err
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            code = err.errno or errno.EIO
            raise OSError(code, f'cannot write {path}: '
                          f'{err.strerror or err}; nothing was written under '
                          'that name') from err
        raise


def _umask() -> int:
    """The process's umask (mkstemp creates files 0600; others get the
    permissions ``open`` would give)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` / ``put_text`` write
    atomically (:func:`atomic_write`)."""

    def put(self, obj: bytes, filepath) -> None:
        os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
        atomic_write(filepath, lambda f: f.write(obj))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


def register_atomic_backend() -> None:
    """Make :class:`AtomicLocalBackend` mmengine's backend for local paths
    (the ``local`` name and the empty prefix)."""
    from mmengine.fileio import io
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # instances mmengine built before (it caches them by arguments)
    for key, backend in list(io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del io.backend_instances[key]
