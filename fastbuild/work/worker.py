"""What a local worker process does before running units: die with its parent, ignore Ctrl-C,
die quietly on SIGTERM, report progress through a queue, and hold the shared "workers alive"
lock of its output folder.

Ctrl-C and SIGTERM are the parent's to handle: it stops its workers with SIGTERM and keeps the
finished units. A worker that gets SIGTERM (from its parent, or with the whole process group:
Slurm at walltime, ``kill -TERM -PGID``) ends the unit it runs through the unit's own cleanup
(which deletes the unit's temporary file), then dies of that SIGTERM, without a traceback; an
idle worker dies of it at once.

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

from fastbuild.errors import Terminated
from fastbuild.work.signals import StopRequest, handler
from fastbuild.work.tasks import set_reporter

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.25
_held = []  # file descriptors of guard locks held by this worker for its lifetime
_state = {"unit": False, "signalled": False}  # running a unit; a SIGTERM is ending it


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
    signal.signal(signal.SIGTERM, _on_sigterm)
    _stop_request.install()
    _die_with_parent(parent_pid)
    if guard is not None:
        fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        _held.append(fd)
    set_reporter(lambda items, rows: queue.put((items, rows)))


@handler
def _on_sigterm(signum, frame) -> None:
    """SIGTERM: stop the running unit (its cleanup runs, see :func:`call_unit`), or die now when idle.

    The unit is stopped by :class:`~fastbuild.errors.Terminated` raised where raising is safe
    (:mod:`fastbuild.work.signals`): an exception inside ``Thread.start`` or a future's wait would
    leave the batch writer's thread writing after the unit's cleanup removed its file.
    """
    if not _state["unit"]:
        _die_of_sigterm()
    if not _state["signalled"]:  # a second SIGTERM must not interrupt the unit's cleanup
        _state["signalled"] = True
        _stop_request.request(frame)


def _stop_unit() -> None:
    """The deferred stop: raise in the unit, or die when the unit ended meanwhile."""
    if not _state["unit"]:
        _die_of_sigterm()
    raise Terminated()


_stop_request = StopRequest(_stop_unit)


def _die_of_sigterm() -> None:
    """End this process by SIGTERM's default action: no traceback, no exit handlers, status -15."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # pragma: no cover - the signal ends the process before
    os._exit(128 + signal.SIGTERM)  # pragma: no cover


def call_unit(fn, arg):
    """Run one unit in a worker (the function the pool is given); after a SIGTERM, die of it."""
    if _state["signalled"]:  # stopped between two units (the last one's cleanup raised): no new unit
        _die_of_sigterm()
    _state["unit"] = True
    try:
        return fn(arg)
    finally:
        _state["unit"] = False
        if _state["signalled"]:
            _die_of_sigterm()
