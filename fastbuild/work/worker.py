"""What a local worker process does before running units: die with its parent, ignore Ctrl-C,
report progress through a queue, and hold the shared "workers alive" lock of its output folder.

A worker started by a ``fastbuild`` process must never outlive it (an orphan would keep writing
into the output folder while a resumed build writes the same files). Two mechanisms, either of
which suffices: Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), and a daemon
thread that exits the process as soon as its parent process id changes.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import threading
import time

from fastbuild.work.tasks import set_reporter

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.25
_held = []  # file descriptors of guard locks held by this worker for its lifetime


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="fastbuild-parent-watch", daemon=True).start()


def init_worker(queue, parent_pid: int, guard: str | None) -> None:
    """Initializer of every local worker process (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _die_with_parent(parent_pid)
    if guard is not None:
        fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _held.append(fd)
    set_reporter(lambda items, rows: queue.put((items, rows)))


def call_unit(fn, arg):
    """Run one unit in a worker (the function the pool is given)."""
    return fn(arg)
