"""Dask executor: units as tasks of a ``distributed`` cluster the user started.

The CLI connects (``--dask-scheduler ADDRESS``, ``--scheduler-file FILE`` or Dask's
``DASK_SCHEDULER_ADDRESS``); it never creates a cluster. Python callers may pass a
``distributed.Client``. Each unit becomes one task keyed by its plan unit, submitted with
``retries`` so a unit whose worker died runs again elsewhere; units write their own files
(to storage every worker sees) and return only statistics.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from fastbuild.errors import FastbuildError
from fastbuild.work.base import Executor, OnProgress, OnResult
from fastbuild.work.tasks import Task

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 3
CONNECT_TIMEOUT_S = 30


def _distributed():
    try:
        import distributed
    except ImportError:
        raise FastbuildError(
            "running on a Dask cluster needs the optional extra: pip install 'fastbuild-splice[dask]'") from None
    return distributed


def _call_unit(fn, arg):
    return fn(arg)


class DaskExecutor(Executor):
    """Run units on a Dask cluster (see the module docstring)."""

    name = "dask"
    reports_items = False

    def __init__(self, address: str | None = None, scheduler_file: str | None = None, client=None,
                 retries: int = DEFAULT_RETRIES):
        distributed = _distributed()
        self.retries = int(retries)
        self._own = client is None
        if client is None:
            where = address or scheduler_file
            try:
                client = distributed.Client(address=address, scheduler_file=scheduler_file,
                                            timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise FastbuildError(f"cannot connect to the Dask scheduler at {where}: {exc}") from None
        self.client = client

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        return f"Dask cluster at {self.client.scheduler.address} ({len(workers)} workers)"

    def run(self, units: Sequence[Task], on_result: OnResult, on_progress: OnProgress) -> None:
        distributed = _distributed()
        token = uuid.uuid4().hex[:8]
        futures = {}
        for u in units:
            fut = self.client.submit(_call_unit, u.fn, u.arg, key=f"fastbuild-{u.key}-{token}", pure=False,
                                     retries=self.retries, resources=u.resources or None)
            futures[fut.key] = (fut, u)
        try:
            for fut in distributed.as_completed([f for f, _ in futures.values()], loop=self.client.loop):
                unit = futures[fut.key][1]
                try:
                    result = fut.result()
                except distributed.client.FutureCancelledError:
                    raise FastbuildError(f"the Dask cluster cancelled unit {unit.key}; rerun to resume") from None
                except FastbuildError:
                    raise
                except Exception as exc:
                    if type(exc).__name__ == "KilledWorker":
                        raise FastbuildError(
                            f"unit {unit.key} killed its Dask worker repeatedly (out of memory?); finished units are "
                            "kept: rerun to resume") from None
                    raise
                on_progress(unit.items, 0)
                on_result(unit, result)
                fut.release()
        finally:
            for fut, _ in futures.values():
                if fut.status == "pending":
                    fut.cancel()
            if self._own:
                self.client.close()
