"""Scoring's work unit: one score-store chunk, scored and written by whichever process runs it.

A :class:`ScoreTask` names its inputs by path (genome, store) and the model by the argument the
user gave (or the loaded :class:`~fastbuild.basemodel.models.Model` for in-process runs), so it
pickles small for worker processes and Dask. Each process keeps the genome, model and runner it
opened for the next unit (:func:`release` closes them). Running a unit twice writes the same
chunk file (its name is fixed by the gene ids); the unit never touches the store's index: the
coordinating process records finished chunks (:meth:`ScoreStore.record_chunk`, under the store's
lock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fastbuild.basemodel.backends import make_runner
from fastbuild.basemodel.models import Model, load_model
from fastbuild.basemodel.regions import score_chunk
from fastbuild.basemodel.store import ScoreStore
from fastbuild.work import report_progress

_open: dict = {}  # (kind, key) -> open genome / model / runner of this process


@dataclass(frozen=True)
class ScoreTask:
    """One chunk of genes to score into the store (see the module docstring)."""

    store: str
    fasta: str
    model: object  # a load_model argument, or a Model
    chunk: pl.DataFrame  # gene_id, chrom, start, end, strand of the chunk's genes
    file: str  # the chunk's path relative to the store
    mantissa_bits: int
    merge_gap: int | None
    backend: str
    threads: int | None
    precision: str = "float32"


def _model(source) -> Model:
    if isinstance(source, Model):
        return source
    key = ("model", repr(source))
    if key not in _open:
        _open[key] = load_model(source)
    return _open[key]


def _genome(fasta: str):
    from fastbuild.genome import Genome

    key = ("genome", fasta)
    if key not in _open:
        _open[key] = Genome(fasta)
    return _open[key]


def _runner(model: Model, backend: str, threads: int | None, precision: str = "float32"):
    key = ("runner", model.spec.digest, backend, threads, precision)
    if key not in _open:
        _open[key] = make_runner(model, backend, threads, precision=precision)
    return _open[key]


def release() -> None:
    """Close the genomes and runners this process keeps open."""
    for key, obj in list(_open.items()):
        if key[0] in ("runner", "genome"):
            obj.close()
    _open.clear()


def score_unit(task: ScoreTask) -> dict:
    """Score one chunk and write its file (unless already on disk); returns small statistics."""
    t0 = time.perf_counter()
    store = ScoreStore(task.store)
    ids = task.chunk["gene_id"].to_list()
    if store.chunk_done(Path(task.file), ids):
        report_progress(len(ids), 0)
        return {"file": task.file, "genes": len(ids), "nucleotides": 0, "reused": True, "seconds": 0.0}
    model = _model(task.model)
    nucleotides = [0]

    def on_region(n_genes: int, n_bases: int) -> None:
        nucleotides[0] += n_bases
        report_progress(n_genes, n_bases)

    runner = _runner(model, task.backend, task.threads, task.precision)
    frames = score_chunk(_genome(task.fasta), model, runner, task.chunk,
                         model.flank if task.merge_gap is None else task.merge_gap, on_region)
    store.write_chunk(Path(task.file), frames, task.mantissa_bits, engine=runner.backend)
    return {"file": task.file, "genes": len(ids), "nucleotides": nucleotides[0], "reused": False,
            "seconds": round(time.perf_counter() - t0, 3)}
