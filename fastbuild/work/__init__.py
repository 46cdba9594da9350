"""Running a plan's work units: here, in a local process pool, or on a Dask cluster.

A command (``build``, ``predict``) turns its plan into :class:`Task` objects; an executor runs
them and hands each unit's small result back to the main process, in the order they finish.
Every unit writes its own output file atomically and is idempotent, so the executor may run a
unit twice (a retry after a worker died) without changing the result. Units are fixed by the
plan, never by how many workers run them.

- :class:`~fastbuild.work.local.LocalExecutor`: ``jobs=1`` runs units in this process;
  ``jobs=N`` a spawn pool of N worker processes harvested in the main thread, with progress
  per item (gene) from the workers, workers that die with their parent, and a dead worker
  reported as one line.
- :class:`~fastbuild.work.dask.DaskExecutor`: a ``distributed`` cluster the user started
  (optional extra ``fastbuild-splice[dask]``); tasks keyed by plan unit, with retries.
"""

from fastbuild.work.base import Executor
from fastbuild.work.executor import make_executor
from fastbuild.work.tasks import Task, report_progress

__all__ = ["Executor", "Task", "make_executor", "report_progress"]
