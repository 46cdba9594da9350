"""Local executor: units in this process (``jobs=1``) or in a spawn pool of worker processes."""

from __future__ import annotations

import fcntl
import logging
import os
import queue as queue_mod
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from fastbuild.checks import positive
from fastbuild.errors import FastbuildError
from fastbuild.work.base import Executor, OnProgress, OnResult
from fastbuild.work.units import Unit, set_reporter
from fastbuild.work.worker import call_unit, init_worker

log = logging.getLogger(__name__)

GUARD_NAME = ".fastbuild.workers.lock"
ORPHAN_WAIT_S = 5.0
HARVEST_S = 0.2


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

    def describe(self) -> str:
        return "this process" if self.jobs == 1 else f"{self.jobs} local worker processes"

    def run(self, units: Sequence[Unit], on_result: OnResult, on_progress: OnProgress) -> None:
        if self.guard is not None:
            wait_for_orphans(self.guard)
        if self.jobs == 1 or len(units) <= 1:
            self._run_here(units, on_result, on_progress)
        else:
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
        ctx = get_context("spawn")
        progress = ctx.Queue()
        pool = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(units)), mp_context=ctx, initializer=init_worker,
            initargs=(progress, os.getpid(), str(self.guard) if self.guard else None))
        finished = 0
        try:
            futures = {pool.submit(call_unit, u.fn, u.arg): u for u in units}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=HARVEST_S, return_when=FIRST_COMPLETED)
                _drain(progress, on_progress)
                for fut in sorted(done, key=lambda f: futures[f].key):
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        raise FastbuildError(
                            f"a worker process died (out of memory? killed?) after {finished} of {len(units)} "
                            "units; finished units are kept: rerun the same command to resume") from None
                    finished += 1
                    on_result(futures[fut], result)
            _drain(progress, on_progress)
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)


def _drain(progress, on_progress) -> None:
    while True:
        try:
            items, rows = progress.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        on_progress(items, rows)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the worker processes now (on an error or Ctrl-C)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():  # pragma: no cover - a worker ignoring SIGTERM
            p.kill()
