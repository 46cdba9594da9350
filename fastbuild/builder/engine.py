"""``fastbuild build``: plan the build, then build its batch files batch by batch.

Per batch: load the batch's genes' scores (only the score-store chunks that hold them), decode
each gene's strand-oriented sequence once, label every position and draw the downsampling
mask on cheap per-position arrays, featurise only the kept rows, and stream record batches of
at most ``batch_rows`` rows into the batch file. Peak memory therefore follows
``batch_rows`` and the largest gene, not the number of genes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from fastbuild import atomic
from fastbuild.builder import output, report
from fastbuild.builder.batch import run_batch
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.lock import OutputLock
from fastbuild.builder.plan import BuildPlan, make_plan
from fastbuild.builder.schema import make_schema
from fastbuild.builder.workers import run_batches


@dataclass
class BuildResult:
    """What :func:`build_dataset` did (``table`` is set for in-memory builds)."""

    info: dict
    output_dir: Path | None = None
    table: pa.Table | None = None
    manifest: pl.DataFrame | None = None

    def to_polars(self) -> pl.DataFrame:
        if self.table is None:
            return pl.scan_parquet(str(self.output_dir / "master" / "*.parquet")).collect()
        return pl.from_arrow(self.table)


def build_dataset(config: BuildConfig | None = None, **options) -> BuildResult:
    """Build a position-centric splice-site dataset (the engine behind ``fastbuild build``).

    Parameters
    ----------
    config : BuildConfig, optional
        All options; keyword ``options`` (flat option names, as on the command line) override
        its fields or build one from scratch, e.g.
        ``build_dataset(n_genes=10, kmer_sizes=(3,), output_dir=None)``.

    Returns
    -------
    BuildResult
        With ``output_dir=None`` nothing touches disk and ``result.table`` holds the rows
        (``result.to_polars()`` for a DataFrame); otherwise the dataset is in
        ``output_dir/master/*.parquet`` with its manifest and build_info.json.
    """
    config = (config or BuildConfig()).replace(**options)
    t0 = time.perf_counter()
    if config.run.output_dir is None:
        return _build_in_memory(config, t0)
    out = atomic.ensure_dir(config.run.output_dir)
    lock = OutputLock(out).acquire()
    try:
        return _build_to_disk(config, out, t0)
    finally:
        lock.release()


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


def _build_to_disk(config: BuildConfig, out: Path, t0: float) -> BuildResult:
    timings: dict = {}
    plan: BuildPlan = make_plan(config, str(out / "cache"), timings)
    output.start(out, plan.record, config.run.overwrite)
    t1 = time.perf_counter()
    stats, resumed = run_batches(plan.tasks(out), out, config.run.jobs, config.run.progress, plan.genes.height)
    timings["batches"] = time.perf_counter() - t1
    stats.sort(key=lambda s: s.index)
    man = report.manifest(plan.ann.genes, stats)
    timings["total"] = time.perf_counter() - t0
    info = report.build_info(plan, stats, timings, resumed)
    output.publish(out, None if config.run.no_manifest else man, info)
    return BuildResult(info, out, None, man)
