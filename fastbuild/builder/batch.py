"""One batch of genes -> one batch file (or record batches in memory): the unit of work.

A :class:`BatchTask` carries everything a (possibly separate) worker process needs; running it
twice writes the same rows, and only a finished file ever carries its final name.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fastbuild.annotation import Annotation
from fastbuild.basemodel.store import ScoreStore
from fastbuild.builder.allocators import tune_once
from fastbuild.builder.columns import ColumnBuffer
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.genes import gene_inputs
from fastbuild.builder.rows import gene_chunks
from fastbuild.builder.schema import make_schema
from fastbuild.builder.stats import BatchStats, GeneTally
from fastbuild.builder.writer import BatchFileWriter, encoder_threads
from fastbuild.genome import Genome
from fastbuild.work import report_progress


@dataclass(frozen=True)
class BatchTask:
    """One batch: its genes with their annotation, and where the inputs and output live."""

    index: int
    config: BuildConfig
    config_hash: str
    fasta: str
    scores: str
    genes: pl.DataFrame
    ann: Annotation  # restricted to the batch's genes
    out_dir: str | None


def run_batch(task: BatchTask, on_gene=None, sink=None) -> BatchStats:
    """Build one batch; returns its statistics (also stored in the batch file's metadata).

    With ``task.out_dir`` None, record batches go to ``sink`` instead of a file;
    ``on_gene(n_rows)`` is called after each gene.
    """
    t0 = time.perf_counter()
    schema = make_schema(task.config)
    writer = buffer = None
    if task.out_dir is None:
        buffer = ColumnBuffer(schema, task.config.batch_rows, sink)
    else:
        writer = BatchFileWriter(Path(task.out_dir), task.index, schema, task.config.batch_rows,
                                 encoders=encoder_threads(units_at_once(task.config.run.jobs)))
    try:
        tallies = _write_genes(task, buffer.add if writer is None else writer.add, on_gene)
        t1 = time.perf_counter()
        (buffer if writer is None else writer.buffer).flush()  # the last rows, timed as "write"
        t2 = time.perf_counter()
        stats = BatchStats.collect(task.index, task.config_hash, tallies, t2 - t0, {"write": t2 - t1})
        if writer is not None:
            writer.finish(stats)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return stats


def units_at_once(jobs: int) -> int:
    """How many units the process running this one runs at once: ``--jobs`` (local worker
    processes run one unit each), or a Dask worker's threads when it runs on one."""
    dist = sys.modules.get("distributed")  # (only a Dask worker has it imported already)
    if dist is not None:
        try:
            return max(jobs, int(dist.get_worker().state.nthreads))
        except (ValueError, AttributeError):  # not on a worker
            pass
    return jobs


def _write_genes(task: BatchTask, add, on_gene) -> list[tuple[str, GeneTally]]:
    """Make and add every gene's rows; one tally per gene, with the seconds of each stage (stats.STAGES)."""
    tallies = []
    clock = time.perf_counter
    with Genome(task.fasta) as genome:
        store = ScoreStore(task.scores)
        genes = gene_inputs(genome, store, task.genes, task.ann, task.config)
        while True:
            t0 = clock()
            g = next(genes, None)  # reads the gene's scores (and its chunk's, for the first gene of a chunk)
            if g is None:
                break
            tally = GeneTally(split=g.info.get("split"))
            tally.seconds["read"] += clock() - t0
            chunks = gene_chunks(g, task.config, tally)
            for chunk in chunks:
                t0 = clock()
                add(chunk)
                tally.seconds["write"] += clock() - t0
            tallies.append((g.info["gene_id"], tally))
            if on_gene is not None:
                on_gene(tally.rows)
    return tallies


def build_unit(task: BatchTask) -> BatchStats:
    """The work unit of a build (run by any executor): one batch file, progress per gene.

    In a ``fastbuild build`` process or one of its local workers, the allocators are tuned first
    (:mod:`fastbuild.builder.allocators`)."""
    tune_once()
    return run_batch(task, on_gene=lambda rows: report_progress(1, rows))


def warm_worker(_) -> None:
    """Run once by each local worker while the main process plans: unpickling this function
    imports the builder (polars, pyarrow, numba kernels) before the first unit arrives."""
