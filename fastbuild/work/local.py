"""Local executor: units in this process (``jobs=1``) or in a spawn pool of worker processes."""

from __future__ import annotations

import fcntl
import logging
import os
import queue as queue_mod
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from fastbuild.checks import positive
from fastbuild.errors import FastbuildError
from fastbuild.work.base import Executor, OnProgress, OnResult
from fastbuild.work.tasks import Task, set_reporter
from fastbuild.work.worker import call_unit, init_worker

log = logging.getLogger(__name__)

GUARD_NAME = ".fastbuild.workers.lock"
ORPHAN_WAIT_S = 5.0
HARVEST_S = 0.2
SIGNAL_GRACE_S = 2.0  # how long a broken pool waits for this process's own SIGTERM handler


def wait_for_orphans(guard: Path, seconds: float = ORPHAN_WAIT_S) -> None:
    """Wait (up to ``seconds``) until no worker of an earlier run holds ``guard``; else FastbuildError."""
    fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise FastbuildError(
                        f"worker processes of an earlier run are still writing into {guard.parent}; "
                        "wait for them to end (or stop them) and rerun") from None
                time.sleep(0.1)
    finally:
        os.close(fd)


class LocalExecutor(Executor):
    """Run units here (``jobs=1``) or in ``jobs`` spawned worker processes.

    Parameters
    ----------
    jobs : int
        Worker processes; 1 runs every unit in this process.
    guard_dir : path, optional
        Output folder whose ``.fastbuild.workers.lock`` the workers hold (shared) while alive, so
        that a later run can tell that workers of an earlier one still live.
    """

    name = "local"

    def __init__(self, jobs: int = 1, guard_dir=None):
        positive("jobs", jobs)
        self.jobs = int(jobs)
        self.guard = Path(guard_dir) / GUARD_NAME if guard_dir is not None else None
        self._pool: ProcessPoolExecutor | None = None
        self._progress = None

    def describe(self) -> str:
        return "this process" if self.jobs == 1 else f"{self.jobs} local worker processes"

    def start(self, warm=None) -> None:
        """Spawn the worker processes now (``jobs > 1``); each runs ``warm(None)`` once."""
        if self.jobs == 1 or self._pool is not None:
            return
        if self.guard is not None:
            wait_for_orphans(self.guard)
        ctx = get_context("spawn")
        self._progress = ctx.Queue()
        self._pool = ProcessPoolExecutor(
            max_workers=self.jobs, mp_context=ctx, initializer=init_worker,
            initargs=(self._progress, os.getpid(), str(self.guard) if self.guard else None))
        if warm is not None:
            for _ in range(self.jobs):
                self._pool.submit(call_unit, warm, None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._close_progress()

    def _close_progress(self) -> None:
        """Close the progress queue (its semaphores are freed once no one refers to it)."""
        if self._progress is not None:
            _close_queue(self._progress)
            self._progress = None

    def run(self, units: Sequence[Task], on_result: OnResult, on_progress: OnProgress) -> None:
        if self.jobs == 1 or (len(units) <= 1 and self._pool is None):
            if self.guard is not None:
                wait_for_orphans(self.guard)
            self._run_here(units, on_result, on_progress)
        else:
            self.start()
            self._run_pool(units, on_result, on_progress)

    @staticmethod
    def _run_here(units, on_result, on_progress) -> None:
        set_reporter(on_progress)
        try:
            for u in units:
                on_result(u, u.run())
        finally:
            set_reporter(None)

    def _run_pool(self, units, on_result, on_progress) -> None:
        pool, progress = self._pool, self._progress
        finished = 0
        try:
            futures = {pool.submit(call_unit, u.fn, u.arg): u for u in units}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=HARVEST_S, return_when=FIRST_COMPLETED)
                _drain(progress, on_progress)
                for fut in sorted(done, key=lambda f: futures[f].key):
                    result = fut.result()
                    finished += 1
                    on_result(futures[fut], result)
            _drain(progress, on_progress)
        except BrokenProcessPool:
            self._pool = None
            codes = _stop(pool)
            self._close_progress()
            if codes and all(c == -signal.SIGTERM for c in codes):  # with us, by `kill -TERM -PGID`?
                _await_own_signal()
            raise FastbuildError(
                f"a worker process died (out of memory? killed?) after {finished} of {len(units)} "
                "units; finished units are kept: rerun the same command to resume") from None
        except BaseException:
            self._pool = None
            _stop(pool)
            self._close_progress()
            raise
        self.close()


def _drain(progress, on_progress) -> None:
    while True:
        try:
            items, rows = progress.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        on_progress(items, rows)


def _close_queue(q) -> None:
    q.close()
    q.join_thread()


def _stop(pool: ProcessPoolExecutor) -> list[int | None]:
    """Cancel what is queued and end the worker processes now (on an error, Ctrl-C or SIGTERM).

    Also waits for the pool's manager thread, which closes the pool's call queue. Returns the
    workers' exit codes (``-15``: ended by a SIGTERM).
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():  # pragma: no cover - a worker ignoring SIGTERM
            p.kill()
            p.join(timeout=5)
    if manager is not None:
        manager.join(timeout=5)
    return [p.exitcode for p in procs]


def _await_own_signal(seconds: float = SIGNAL_GRACE_S) -> None:
    """Give this process's SIGTERM handler time to run when the workers died of a SIGTERM.

    A signal to the whole process group may break the pool before the main thread has run its
    own handler; sleeping lets that handler raise (so the run ends as terminated, not as a dead
    worker). Returns when no handler raised within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
