"""One training run per work dir: a lock file holding the run's pid.

Two runs writing one work dir would interleave their logs, scalars and
checkpoints (one run's ``best`` checkpoint reported by the other).
:class:`WorkDirLock` creates ``<work_dir>/train.lock`` exclusively; a second
run finds it and stops with an error naming the pid that holds it. A lock
left by a run that was killed (its pid no longer runs, or runs another
program since) is stale: it is taken over with a warning. The lock is
removed when the run ends, normally or by an exception.
"""
import logging
import os
import os.path as osp
import socket
from typing import Optional

from mmengine.logging import print_log

LOCK_NAME = 'train.lock'


def _start_time(pid: int) -> Optional[str]:
    """When process ``pid`` started (field 22 of /proc/<pid>/stat), to tell
    a reused pid from the locking process; None where /proc is absent."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid: int, started: Optional[str]) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    return started is None or _start_time(pid) in (None, started)


class WorkDirLock:
    """Hold ``<work_dir>/train.lock`` while a training runs in ``work_dir``.

    Args:
        work_dir: the run's work dir (created if absent).

    Raises:
        RuntimeError: another live run holds the lock; the message names
            its pid, host and the lock file.

    Example:
        >>> import tempfile
        >>> work_dir = tempfile.mkdtemp()
        >>> with WorkDirLock(work_dir):
        ...     WorkDirLock(work_dir).acquire()
        Traceback (most recent call last):
        ...
        RuntimeError: ...is in use by another training run (pid ...
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.text = f'{self.pid} {self.host} {_start_time(self.pid)}\n'

    def _read(self) -> Optional[tuple]:
        try:
            with open(self.path) as f:
                words = f.read().split()
            pid, host, started = int(words[0]), words[1], words[2]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, IndexError):
            return (None, None, None)  # unreadable: a torn write, stale
        return pid, host, None if started == 'None' else started

    def acquire(self) -> 'WorkDirLock':
        os.makedirs(self.work_dir, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._read()
                if holder is None:
                    continue  # released meanwhile: try again
                pid, host, started = holder
                if pid is not None and (host != self.host
                                        or _running(pid, started)):
                    where = '' if host == self.host else f' on {host}'
                    raise RuntimeError(
                        f'work dir {self.work_dir} is in use by another '
                        f'training run (pid {pid}{where}; lock file '
                        f'{self.path}). Wait for it to end or give another '
                        '--work-dir; if no such run exists any more, delete '
                        'the lock file.')
                print_log(
                    f'taking over the stale lock {self.path} of pid {pid} '
                    '(that run is no longer running)',
                    logger='current',
                    level=logging.WARNING)
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, 'w') as f:
                f.write(self.text)
            return self
        raise RuntimeError(f'cannot take the lock {self.path}: other runs '
                           'keep creating it')

    def release(self) -> None:
        """Remove the lock file if it is still this run's."""
        try:
            with open(self.path) as f:
                mine = f.read() == self.text
        except OSError:
            return
        if mine:
            os.remove(self.path)

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
