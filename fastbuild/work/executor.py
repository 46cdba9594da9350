"""The choice of executor: local processes or a Dask cluster."""

from __future__ import annotations

import logging
import os

from fastbuild.errors import FastbuildError
from fastbuild.work.base import Executor

log = logging.getLogger(__name__)

def make_executor(jobs: int = 1, dask_scheduler: str | None = None, scheduler_file: str | None = None,
                  client=None, guard_dir=None, use_env: bool = False) -> Executor:
    """The executor for these options.

    Parameters
    ----------
    jobs : int
        Local worker processes (1 runs units in this process).
    dask_scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``). When neither this nor
        ``scheduler_file`` nor ``client`` is given and ``use_env`` (the command line), the
        ``DASK_SCHEDULER_ADDRESS`` environment variable (Dask's own convention) is used when set.
    scheduler_file : str, optional
        A scheduler file written by ``dask scheduler --scheduler-file`` / dask-jobqueue.
    client : distributed.Client, optional
        An existing client (Python API).
    guard_dir : path, optional
        Output folder guarded against orphaned local workers (see :class:`LocalExecutor`).
    """
    if use_env and client is None and not dask_scheduler and not scheduler_file:
        dask_scheduler = os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        if dask_scheduler:
            log.warning("using the Dask scheduler at %s (from DASK_SCHEDULER_ADDRESS)", dask_scheduler)
    if client is not None or dask_scheduler or scheduler_file:
        if dask_scheduler and scheduler_file:
            raise FastbuildError("give either --dask-scheduler or --scheduler-file, not both")
        from fastbuild.work.dask import DaskExecutor

        return DaskExecutor(address=dask_scheduler, scheduler_file=scheduler_file, client=client)
    from fastbuild.work.local import LocalExecutor

    return LocalExecutor(jobs, guard_dir=guard_dir)
