"""``fastbuild build`` as a job of the run protocol (:mod:`fastbuild.work.protocol`).

Per unit (a batch of genes): load the batch's genes' scores (only the score-store chunks that
hold them), decode each gene's strand-oriented sequence once, label every position and draw the
downsampling mask on cheap per-position arrays, featurise only the kept rows, and stream record
batches of at most ``batch_rows`` rows into the unit's file. Peak memory therefore follows
``batch_rows`` and the largest gene, not the number of genes.

The library functions, one per protocol step::

    plan = plan_build(config)          # --plan-only: decide the units, record plan.json
    plan = open_build_plan(config)     # the plan recorded in the folder (it must match config)
    run_build_unit(plan, j)            # --unit J (idempotent; nothing when already finished)
    finalise_build(plan)               # --finalise: publish once every unit is finished
    build_dataset(config)              # all three, the units on an executor

The units are fixed by the plan (``plan.json``); any executor (this process, local worker
processes, a Dask cluster, or a job array running ``--unit J``) gives the same files.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from fastbuild import atomic
from fastbuild.builder import output, report
from fastbuild.builder.batch import build_unit, run_batch, warm_worker
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.lock import OutputLock
from fastbuild.builder.plan import BuildPlan, make_plan
from fastbuild.builder.schema import make_schema
from fastbuild.errors import FastbuildError
from fastbuild.report.write import build_report_files
from fastbuild.work import Executor, Task, make_executor, protocol

log = logging.getLogger(__name__)

__all__ = ["BuildJob", "BuildResult", "build_dataset", "finalise_build", "open_build_plan", "plan_build",
           "run_build_unit"]


@dataclass
class BuildResult:
    """What :func:`build_dataset` did (``table`` is set for in-memory builds)."""

    info: dict
    output_dir: Path | None = None
    table: pa.Table | None = None
    manifest: pl.DataFrame | None = None

    def to_polars(self) -> pl.DataFrame:
        """The rows as one DataFrame; FastbuildError when the folder is not a finished dataset."""
        if self.table is None:
            output.require_finished(self.output_dir)
            return pl.scan_parquet(str(self.output_dir / output.MASTER / "*.parquet")).collect()
        return pl.from_arrow(self.table)


class BuildJob(protocol.Job):
    """A build as the protocol sees it: units are the batch files of the output folder."""

    noun = "build"
    items = "genes"

    def __init__(self, plan: BuildPlan):
        self.plan = plan
        self.out = plan.output_dir
        self.where = str(self.out)
        self.units = plan.units()
        self._tasks = None

    def unit_state(self, unit: dict):
        return output.unit_problem(self.out, unit, self.plan.config_hash)

    def task(self, unit: dict) -> Task:
        if self._tasks is None:
            self._tasks = self.plan.tasks(self.out)
        t = self._tasks[unit["index"] - 1]
        return Task(f"batch-{t.index:05d}", build_unit, t, items=t.genes.height)

    def progress_note(self, items: int, rows: int) -> str:
        return f"{rows:,} rows"

    def warm(self):
        return warm_worker

    def publish(self, stats: list) -> BuildResult:
        plan = self.plan
        man = report.manifest(plan.ann.genes, stats)
        plan.timings["total"] = time.perf_counter() - plan.started
        info = report.build_info(plan, stats, plan.timings, self.resumed)
        extra = build_report_files(self.out, info, None if plan.config.no_manifest else man, stats,
                                   make_schema(plan.config))
        output.finalise(self.out, plan.record, None if plan.config.no_manifest else man, info, extra)
        return BuildResult(info, self.out, None, man)


def _config(config: BuildConfig | None, options: dict) -> BuildConfig:
    return (config or BuildConfig()).replace(**options)


def _folder(config: BuildConfig) -> Path:
    if config.output_dir is None:
        raise FastbuildError("--plan-only, --unit and --finalise need --output-dir")
    return atomic.ensure_dir(Path(config.output_dir).absolute())


@contextlib.contextmanager
def _locked(out: Path, shared: bool = False):
    lock = OutputLock(out).acquire(shared=shared)
    try:
        yield
    finally:
        lock.release()


def _as_planned(config: BuildConfig, out: Path) -> BuildConfig:
    """A training build planned before ``--pseudogenes`` existed (its plan.json has no such key) resumes as
    it began, pseudogenes kept, when every other option matches; one line says so."""
    old = output.read_plan(out)
    if config.overwrite or not config.drops_pseudogenes or not old or "pseudogenes" in old.get("config", {}):
        return config
    legacy = config.replace(pseudogenes="keep")
    if old.get("config") != legacy.rows_relevant():
        return config
    log.warning("%s was planned before training builds left out pseudogenes by default: resuming it as it began "
                "(--pseudogenes keep); pass --overwrite to rebuild it without them", out)
    return legacy


def _record_plan(config: BuildConfig, out: Path) -> BuildPlan:
    output.check_folder(out, config.overwrite)
    plan = make_plan(_as_planned(config, out), out)
    output.start(out, plan.record, config.overwrite)
    return plan


def plan_build(config: BuildConfig | None = None, **options) -> BuildPlan:
    """Plan a build and record it as ``OUT/plan.json`` (``--plan-only``); runs no unit.

    Parameters
    ----------
    config : BuildConfig, optional
        All options; keyword ``options`` (flat option names) override its fields.

    Returns
    -------
    BuildPlan
        ``plan.units()`` lists the units; run each with :func:`run_build_unit`.
    """
    config = _config(config, options)
    out = _folder(config)
    with _locked(out):
        return _record_plan(config, out)


def open_build_plan(config: BuildConfig | None = None, **options) -> BuildPlan:
    """The plan that :func:`plan_build` recorded for this configuration (FastbuildError if the folder's differs)."""
    config = _config(config, options)
    out = _folder(config)
    with _locked(out, shared=True):
        plan = make_plan(_as_planned(config, out), out)
        output.require_plan(out, plan.record)
    return plan


def run_build_unit(plan: BuildPlan, number: int) -> dict:
    """Run unit ``number`` (1-based) of a recorded plan (``--unit J``); nothing when it is already finished.

    Returns ``unit``, ``units``, ``already_finished``, ``file``, ``genes`` and ``rows``.
    """
    with _locked(plan.output_dir, shared=True):
        done = protocol.run_unit(BuildJob(plan), number)
    stats = done.pop("result")
    return {**done, "genes": len(plan.units()[done["unit"] - 1]["genes"]), "rows": stats.rows}


def finalise_build(plan: BuildPlan) -> BuildResult:
    """Publish a build whose every unit is finished (``--finalise``); refuses, naming the missing units."""
    with _locked(plan.output_dir):
        return protocol.finalise(BuildJob(plan))


def build_dataset(config: BuildConfig | None = None, *, executor: Executor | None = None, client=None,
                  **options) -> BuildResult:
    """Build a position-centric splice-site dataset: plan, run every unfinished unit, finalise.

    Parameters
    ----------
    config : BuildConfig, optional
        All options; keyword ``options`` (flat option names, as on the command line) override
        its fields or build one from scratch, e.g.
        ``build_dataset(n_genes=10, kmer_sizes=(3,), output_dir=None)``.
    executor : fastbuild.work.Executor, optional
        Runs the work units (default: local, ``jobs`` processes).
    client : distributed.Client, optional
        Run the units on this Dask cluster (workers must see ``output_dir``).

    Returns
    -------
    BuildResult
        With ``output_dir=None`` nothing touches disk and ``result.table`` holds the rows
        (``result.to_polars()`` for a DataFrame); otherwise the finished dataset is in
        ``output_dir/master/*.parquet`` with its manifest, build_info.json and ``_SUCCESS``.
        Rerunning the same call resumes an interrupted build.
    """
    config = _config(config, options)
    if config.output_dir is None:
        return _build_in_memory(config)
    out = _folder(config)
    with _locked(out):
        executor = executor or make_executor(config.run.jobs, client=client, guard_dir=out)
        try:
            executor.start(warm_worker)  # local workers import while this process plans
            job = BuildJob(_record_plan(config, out))
            t1 = time.perf_counter()
            result, _ = protocol.run_all(job, executor, config.run.progress,
                                         on_done=lambda: job.plan.timings.update(batches=time.perf_counter() - t1))
            return result
        finally:
            executor.close()


def _build_in_memory(config: BuildConfig) -> BuildResult:
    plan = make_plan(config, None)
    t1 = time.perf_counter()
    batches: list[pa.RecordBatch] = []
    stats = [run_batch(t, sink=batches.append) for t in plan.tasks(None)]
    table = pa.Table.from_batches(batches, schema=make_schema(config))
    plan.timings.update(batches=time.perf_counter() - t1, total=time.perf_counter() - plan.started)
    info = report.build_info(plan, stats, plan.timings, 0)
    return BuildResult(info, None, table, report.manifest(plan.ann.genes, stats))
