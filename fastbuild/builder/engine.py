"""``fastbuild build``: plan the build, run its work units on an executor, then finalise.

Per unit (a batch of genes): load the batch's genes' scores (only the score-store chunks that
hold them), decode each gene's strand-oriented sequence once, label every position and draw the
downsampling mask on cheap per-position arrays, featurise only the kept rows, and stream record
batches of at most ``batch_rows`` rows into the unit's file. Peak memory therefore follows
``batch_rows`` and the largest gene, not the number of genes.

The units are fixed by the plan (``plan.json``); any executor (this process, local worker
processes, a Dask cluster, or a job array running ``--unit J``) gives the same files, and
:func:`fastbuild.builder.output.finalise` publishes them only once every unit is present.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from fastbuild import atomic
from fastbuild.builder import output, report
from fastbuild.builder.batch import BatchTask, build_unit, run_batch, warm_worker
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.lock import OutputLock
from fastbuild.builder.plan import BuildPlan, make_plan
from fastbuild.builder.schema import make_schema
from fastbuild.errors import FastbuildError
from fastbuild.progress import Progress
from fastbuild.work import Executor, Task, make_executor

log = logging.getLogger(__name__)
ACTIONS = ("run", "plan", "unit", "finalise")


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


def build_dataset(config: BuildConfig | None = None, *, executor: Executor | None = None, client=None,
                  action: str = "run", unit: int | None = None, **options) -> BuildResult:
    """Build a position-centric splice-site dataset (the engine behind ``fastbuild build``).

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
    action : {"run", "plan", "unit", "finalise"}
        ``run`` plans, runs every unfinished unit and finalises; ``plan`` only writes the plan;
        ``unit`` runs unit number ``unit`` (1-based) of the plan already in ``output_dir``;
        ``finalise`` publishes a build whose every unit is finished (refusing, naming the
        missing ones, otherwise).

    Returns
    -------
    BuildResult
        With ``output_dir=None`` nothing touches disk and ``result.table`` holds the rows
        (``result.to_polars()`` for a DataFrame); otherwise the finished dataset is in
        ``output_dir/master/*.parquet`` with its manifest, build_info.json and ``_SUCCESS``.
    """
    config = (config or BuildConfig()).replace(**options)
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
    t0 = time.perf_counter()
    if config.run.output_dir is None:
        if action != "run":
            raise FastbuildError("--plan-only, --unit and --finalise need --output-dir")
        return _build_in_memory(config, t0)
    out = atomic.ensure_dir(Path(config.run.output_dir).absolute())
    lock = OutputLock(out).acquire(shared=action == "unit")
    if action == "run":
        executor = executor or make_executor(config.run.jobs, client=client, guard_dir=out)
    try:
        return _build_to_disk(config, out, action, unit, executor, t0)
    finally:
        if executor is not None:
            executor.close()
        lock.release()


def _build_to_disk(config: BuildConfig, out: Path, action: str, unit: int | None, executor, t0: float) -> BuildResult:
    if action == "run":
        executor.start(warm_worker)  # local workers import while this process plans
    if action != "unit":
        output.check_folder(out, config.run.overwrite)
    timings: dict = {}
    plan: BuildPlan = make_plan(config, str(out / "cache"), timings)
    if action == "unit":
        return _run_one_unit(plan, out, unit)
    if action != "finalise":
        output.start(out, plan.record, config.run.overwrite)
    if action == "plan":
        return _plan_result(plan, out)
    resumed = 0
    if action == "run":
        t1 = time.perf_counter()
        resumed = _run_units(plan, out, executor, config.run.progress)
        timings["batches"] = time.perf_counter() - t1
    return _finalise(plan, out, timings, resumed, t0)


def _build_in_memory(config: BuildConfig, t0: float) -> BuildResult:
    timings: dict = {}
    plan = make_plan(config, None, timings)
    t1 = time.perf_counter()
    batches: list[pa.RecordBatch] = []
    stats = [run_batch(t, sink=batches.append) for t in plan.tasks(None)]
    table = pa.Table.from_batches(batches, schema=make_schema(config))
    timings.update(batches=time.perf_counter() - t1, total=time.perf_counter() - t0)
    info = report.build_info(plan, stats, timings, 0)
    return BuildResult(info, None, table, report.manifest(plan.ann.genes, stats))


def _units(tasks: list[BatchTask]) -> list[Task]:
    return [Task(f"batch-{t.index:05d}", build_unit, t, items=t.genes.height) for t in tasks]


def _run_units(plan: BuildPlan, out: Path, executor: Executor, progress: bool) -> int:
    """Run every unfinished unit of the plan; returns how many were already finished."""
    records = {u["index"]: u for u in plan.units()}
    tasks = plan.tasks(out)
    pending = [t for t in tasks if output.finished_batch(out, records[t.index], plan.config_hash) is None]
    resumed = len(tasks) - len(pending)
    if resumed:
        log.warning("resuming: %d of %d batches already finished", resumed, len(tasks))
    if pending:
        log.info("running %d units on %s", len(pending), executor.describe())
    bar = Progress(plan.genes.height, "genes", enabled=progress)
    bar.done = plan.genes.height - sum(t.genes.height for t in pending)
    rows = [0]

    def on_progress(items: int, n_rows: int) -> None:
        rows[0] += n_rows
        bar.update(items, f"{rows[0]:,} rows" if executor.reports_items else "")

    executor.run(_units(pending), lambda _unit, _stats: None, on_progress)
    return resumed


def _run_one_unit(plan: BuildPlan, out: Path, number: int | None) -> BuildResult:
    """``--unit J``: run unit J of the folder's plan (nothing when it is already finished)."""
    output.require_plan(out, plan.record)
    units = plan.units()
    if number is None or not 1 <= number <= len(units):
        raise FastbuildError(f"--unit must be within 1..{len(units)} (the plan in {out} has {len(units)} units)")
    task = plan.tasks(out)[number - 1]
    st = output.finished_batch(out, units[number - 1], plan.config_hash)
    done = st is not None
    if st is None:
        st = run_batch(task)
    info = {"unit": number, "units": len(units), "file": units[number - 1]["file"], "genes": len(task.genes),
            "rows": st.rows, "already_finished": done}
    return BuildResult(info, out, None, None)


def _plan_result(plan: BuildPlan, out: Path) -> BuildResult:
    info = {"plan": str(out / output.PLAN_FILE), "units": len(plan.units()), "genes": plan.genes.height,
            "hash": plan.config_hash}
    return BuildResult(info, out, None, None)


def _finalise(plan: BuildPlan, out: Path, timings: dict, resumed: int, t0: float) -> BuildResult:
    record = plan.record
    stats, problems = output.collect(out, record)
    if problems:
        raise FastbuildError(output.unfinished_message(out, len(stats), len(record["units"]), problems))
    man = report.manifest(plan.ann.genes, stats)
    timings["total"] = time.perf_counter() - t0
    info = report.build_info(plan, stats, timings, resumed)
    output.finalise(out, record, None if plan.config.run.no_manifest else man, info)
    return BuildResult(info, out, None, man)
