"""The one run protocol of every job: plan -> idempotent units -> finalise.

A job kind (a dataset build, a scoring run, a variant-scoring run) implements :class:`Job`:

* **a plan**, made before anything runs and fixed by the configuration, never by how many workers
  run it: ordered units (dicts with at least ``index``, 1-based, and ``file``), recorded on disk
  together with the configuration hash and the input checksums;
* :meth:`Job.unit_state`: is a unit finished (its file on disk, complete, made with this
  configuration)?
* :meth:`Job.task`: the :class:`~fastbuild.work.Task` that makes a unit. Running it twice writes
  the same file under the same name (temporary name, then rename), so a retry, a duplicate job
  array task or a resumed run never changes the result;
* :meth:`Job.publish`: finalise, called only once every unit is finished.

This module owns the rest, once for every job: which units are already finished (resume),
running the others on an executor with a progress line (:func:`run_all`), one unit of a job
array (:func:`run_unit`), refusing to finalise an unfinished plan (:func:`finalise`), and the
wording of each message. Commands call it through their library functions
(``plan_build`` / ``run_build_unit`` / ``finalise_build``, ``plan_predict`` / ...).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from fastbuild.errors import FastbuildError
from fastbuild.progress import Progress
from fastbuild.work.base import Executor
from fastbuild.work.tasks import Task

__all__ = ["Job", "collect", "collect_states", "finalise", "no_plan_message", "pending_units", "run_all", "run_unit",
           "unfinished_message"]

log = logging.getLogger(__name__)


class Job(ABC):
    """A planned job, as the protocol sees it (see the module docstring).

    Attributes
    ----------
    noun : str
        What the job is called in messages (``"build"``, ``"scoring plan 0123abcd"``).
    where : str
        Where it writes (an output folder, a score store), named in messages.
    units : list of dict
        The plan's ordered units: ``index`` (1-based), ``file``, ``genes`` (item ids).
    items : str
        What a unit's progress items are (``"genes"``).
    resumed : int
        Units already finished when :func:`run_all` started (set by it).
    """

    noun: str = "job"
    where: str = ""
    units: list[dict]
    items: str = "genes"
    resumed: int = 0

    @abstractmethod
    def unit_state(self, unit: dict) -> tuple[Any, str | None]:
        """``(result, None)`` for a finished unit (its statistics, read back), else ``(None, why)``."""

    @abstractmethod
    def task(self, unit: dict) -> Task:
        """The task that makes ``unit`` (run by any executor, in any process)."""

    @abstractmethod
    def publish(self, results: list) -> Any:
        """Finalise: every unit is finished, ``results`` holds their states in plan order."""

    def on_result(self, unit: dict, result: Any) -> None:  # noqa: B027 - optional hook
        """Called in the coordinating process for each unit an executor finishes."""

    def progress_note(self, items: int, amount: int) -> str:
        """Text after the progress line, given per-item reports (``amount``: rows, nucleotides)."""
        return ""


def unfinished_message(where: str, noun: str, n_done: int, n_units: int, problems: list[str]) -> str:
    """The one wording of an unfinished plan, naming (up to three of) the units that are not done."""
    head = "; ".join(problems[:3]) + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")
    return (f"{where}: unfinished {noun}: {n_done} of {n_units} units done ({head}); rerun the same command to "
            "finish it (or run the missing units with --unit J, then --finalise)")


def no_plan_message(where: str, detail: str = "") -> str:
    """The one wording of ``--unit`` / ``--finalise`` without the plan of ``--plan-only``."""
    return f"{where} holds no plan{detail}; run the same command with --plan-only first"


def collect(job: Job) -> tuple[list, list[str]]:
    """States of the finished units, and one line per unit that is not."""
    return collect_states(job.units, job.unit_state)


def collect_states(units: list[dict], unit_state: Callable[[dict], tuple[Any, str | None]]) -> tuple[list, list[str]]:
    """:func:`collect` for units read from a recorded plan, checked by ``unit_state`` (no :class:`Job` needed)."""
    results, problems = [], []
    for unit in units:
        result, why = unit_state(unit)
        if why is None:
            results.append(result)
        else:
            problems.append(f"unit {unit['index']} ({unit['file']}): {why}")
    return results, problems


def pending_units(job: Job) -> list[dict]:
    """The units not yet finished, in plan order."""
    return [u for u in job.units if job.unit_state(u)[1] is not None]


def finalise(job: Job) -> Any:
    """Publish the job when every unit is finished; otherwise FastbuildError naming the missing ones."""
    results, problems = collect(job)
    if problems:
        raise FastbuildError(unfinished_message(job.where, job.noun, len(results), len(job.units), problems))
    return job.publish(results)


def run_unit(job: Job, number: int | None) -> dict:
    """Run unit ``number`` (1-based) in this process, unless it is already finished.

    Returns ``unit``, ``units``, ``already_finished``, ``file`` and ``result`` (the unit's
    statistics or what its task returned).
    """
    n = len(job.units)
    if number is None or isinstance(number, bool) or not 1 <= number <= n:
        raise FastbuildError(f"--unit must be within 1..{n} (the plan in {job.where} has {n} units)")
    unit = job.units[number - 1]
    result, why = job.unit_state(unit)
    if why is not None:
        result = job.task(unit).run()
    return {"unit": number, "units": n, "already_finished": why is None, "file": unit["file"], "result": result}


def run_all(job: Job, executor: Executor, progress: bool = True,
            on_done: Callable[[], None] | None = None) -> tuple[Any, int]:
    """Run every unfinished unit on ``executor``, then :func:`finalise`.

    ``on_done()`` is called once the units ran, before finalising (e.g. to record timings).

    Returns
    -------
    (published, resumed)
        What :meth:`Job.publish` returned, and how many units were already finished.
    """
    pending = pending_units(job)
    resumed = job.resumed = len(job.units) - len(pending)
    if resumed:
        log.warning("resuming: %d of %d units of the %s already finished", resumed, len(job.units), job.noun)
    tasks = {}
    for unit in pending:
        task = job.task(unit)
        tasks[task.key] = (unit, task)
    if tasks:
        log.info("running %d units on %s", len(tasks), executor.describe())
        _execute(job, executor, tasks, progress)
    if on_done is not None:
        on_done()
    return finalise(job), resumed


def _execute(job: Job, executor: Executor, tasks: dict, progress: bool) -> None:
    total = sum(len(u.get("genes", ())) or 1 for u in job.units)
    bar = Progress(total, job.items, enabled=progress)
    bar.done = total - sum(t.items for _, t in tasks.values())
    amount = [0]

    def on_progress(items: int, n: int) -> None:
        amount[0] += n
        bar.update(items, job.progress_note(items, amount[0]) if executor.reports_items else "")

    def on_result(task: Task, result: Any) -> None:
        job.on_result(tasks[task.key][0], result)

    executor.run([t for _, t in tasks.values()], on_result, on_progress)
