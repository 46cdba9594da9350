"""Running a build's batches: skip finished ones, build the rest here and in worker processes.

With ``--jobs N`` the main process and N - 1 spawned worker processes each take the next
pending batch until none is left; a batch is always built whole by one process, so the rows
never depend on N.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from fastbuild.builder.batch import BatchTask, run_batch
from fastbuild.builder.output import finished_batch
from fastbuild.builder.stats import BatchStats
from fastbuild.progress import Progress

log = logging.getLogger(__name__)


class _Harvest:
    """Statistics of finished batches and the progress line, shared by the threads of one build."""

    def __init__(self, stats: list[BatchStats], n_genes: int, progress: bool):
        self.stats = stats
        self.lock = threading.Lock()
        self.bar = Progress(n_genes, "genes", enabled=progress)
        self.bar.done = sum(len(s.genes) for s in stats)
        self.rows = sum(s.rows for s in stats)

    def gene(self, n_rows: int) -> None:
        """One gene built in this process (sequential builds show progress per gene)."""
        self.rows += n_rows
        self.bar.update(1, f"{self.rows:,} rows")

    def batch(self, st: BatchStats, genes_counted: bool) -> None:
        """One batch finished (its genes already counted when built with :meth:`gene`)."""
        with self.lock:
            self.stats.append(st)
            if not genes_counted:
                self.rows += st.rows
                self.bar.update(len(st.genes), f"{self.rows:,} rows (batch {st.index} done)")


class _Queue:
    """The pending batches, taken one at a time by any thread."""

    def __init__(self, tasks: list[BatchTask]):
        self._tasks = list(reversed(tasks))
        self._lock = threading.Lock()

    def take(self) -> BatchTask | None:
        with self._lock:
            return self._tasks.pop() if self._tasks else None

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()


def run_batches(tasks: list[BatchTask], out: Path, jobs: int, progress: bool, n_genes: int):
    """Run the unfinished batches; returns (statistics of every batch, number resumed)."""
    stats, pending = [], []
    for t in tasks:
        st = finished_batch(out, t.index, t.config_hash)
        if st is None:
            pending.append(t)
        else:
            stats.append(st)
    resumed = len(stats)
    if resumed:
        log.warning("resuming: %d of %d batches already finished", resumed, len(tasks))
    harvest = _Harvest(stats, n_genes, progress)
    if jobs > 1 and len(pending) > 1:
        _run_parallel(_Queue(pending), harvest, min(jobs - 1, len(pending) - 1))
    else:
        for t in pending:
            harvest.batch(run_batch(t, on_gene=harvest.gene), genes_counted=True)
    return stats, resumed


def _run_parallel(queue: _Queue, harvest: _Harvest, n_workers: int) -> None:
    """This process and ``n_workers`` spawned processes take batches until the queue is empty."""
    errors: list[BaseException] = []
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"))
    feeder = threading.Thread(target=_feed, args=(pool, queue, harvest, n_workers, errors), daemon=True)
    feeder.start()
    try:
        while (t := queue.take()) is not None:
            harvest.batch(run_batch(t), genes_counted=False)
    except BaseException:
        queue.clear()
        raise
    finally:
        feeder.join()
        pool.shutdown(cancel_futures=True)
    if errors:
        raise errors[0]


def _feed(pool, queue: _Queue, harvest: _Harvest, n_workers: int, errors: list) -> None:
    """Keep each worker process busy with the next pending batch until none is left."""
    try:
        inflight = set()
        while True:
            while len(inflight) < n_workers and (t := queue.take()) is not None:
                inflight.add(pool.submit(run_batch, t))
            if not inflight:
                return
            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                harvest.batch(fut.result(), genes_counted=False)
    except BaseException as exc:  # handed to the main thread
        errors.append(exc)
        queue.clear()
