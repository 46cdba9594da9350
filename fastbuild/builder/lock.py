"""One build per output folder: an advisory ``flock`` on ``OUT/.fastbuild.lock``.

The kernel drops the lock when its process dies (even by SIGKILL), so a crashed build never
blocks the next one; the file itself may stay and only records who held it last.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from fastbuild.errors import FastbuildError

LOCK_NAME = ".fastbuild.lock"


class OutputLock:
    """Exclusive lock of a build output folder (context manager)."""

    def __init__(self, out_dir):
        self.path = Path(out_dir) / LOCK_NAME
        self._fd = None

    def acquire(self, shared: bool = False) -> OutputLock:
        """Take the lock: exclusive for a build, ``shared`` for ``--unit`` runs (many may run at once)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FastbuildError(f"cannot create lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FastbuildError(
                f"another fastbuild build ({holder}) is writing {self.path.parent}; "
                "wait for it to finish or use another --output-dir"
            ) from None
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
