"""Score genes with a base model and write a score store: a job of the run protocol.

Each gene is scored on its own strand (reverse-complemented for minus-strand genes) with the
model's full flanking context on both sides (bases past a contig end read as N). Same-strand genes
closer than the model's flank are scored together in one pass: a base's score depends only on the
bases within ``flank`` of it, so the result is identical and the shared context is computed once.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from fastbuild.basemodel import chunk_worker
from fastbuild.basemodel.backends import DEFAULT_BACKEND, check_backend, estimate_seconds
from fastbuild.basemodel.models import Model, load_model
from fastbuild.basemodel.runner import check_threads, default_threads
from fastbuild.basemodel.store import ScoreStore
from fastbuild.errors import FastbuildError
from fastbuild.work import Executor, Task, make_executor, protocol
from fastbuild.work.protocol import Job

GENE_COLUMNS = ("gene_id", "chrom", "start", "end", "strand")


def plan_chunks(genes: pl.DataFrame, chunk_bases: int = 5_000_000, chunk_genes: int = 400) -> list[pl.DataFrame]:
    """Split genes into chunks: per chromosome, in genomic order, bounded in bases and genes."""
    chunks = []
    genes = genes.sort(["chrom", "start", "end", "gene_id"])
    for (_chrom,), part in genes.group_by(["chrom"], maintain_order=True):
        lengths = (part["end"] - part["start"] + 1).to_numpy()
        begin, acc = 0, 0
        for i, n in enumerate(lengths):
            if i > begin and (acc + n > chunk_bases or i - begin >= chunk_genes):
                chunks.append(part.slice(begin, i - begin))
                begin, acc = i, 0
            acc += int(n)
        chunks.append(part.slice(begin, part.height - begin))
    return chunks


def _checked_genes(genes: pl.DataFrame) -> pl.DataFrame:
    """The gene table reduced to GENE_COLUMNS with their types; FastbuildError when unusable."""
    missing_cols = [c for c in GENE_COLUMNS if c not in genes.columns]
    if missing_cols:
        raise FastbuildError(f"gene table lacks column(s) {', '.join(missing_cols)}")
    genes = genes.select(GENE_COLUMNS).cast(
        {"gene_id": pl.Utf8, "chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64, "strand": pl.Utf8}
    )
    dup = genes.filter(pl.col("gene_id").is_duplicated())
    if dup.height:
        raise FastbuildError(f"gene id {dup['gene_id'][0]} appears more than once in the gene table")
    bad = genes.filter(~pl.col("strand").is_in(["+", "-"]) | (pl.col("end") < pl.col("start")))
    if bad.height:
        raise FastbuildError(f"gene {bad['gene_id'][0]} has no usable strand or coordinates")
    return genes


def plan_key(model: Model, genes: pl.DataFrame, chunk_bases: int, chunk_genes: int, mantissa_bits: int,
             merge_gap: int | None) -> str:
    """Name of the plan of scoring ``genes`` (fixed by the model, the genes and the chunking)."""
    h = hashlib.sha256(json.dumps([model.spec.digest, sorted(genes["gene_id"].to_list()), chunk_bases,
                                   chunk_genes, mantissa_bits, merge_gap]).encode())
    return h.hexdigest()[:16]


def _make_plan(store: ScoreStore, genes: pl.DataFrame, key: str, chunk_bases: int, chunk_genes: int) -> dict:
    """Chunks of the genes the store lacks, as work units; written to the store's plans/ folder."""
    todo = genes.filter(~pl.col("gene_id").is_in(store.present_genes()))
    units = []
    for chunk in plan_chunks(todo, chunk_bases, chunk_genes):
        if chunk.height:
            ids = chunk["gene_id"].to_list()
            rel = store.chunk_name(chunk["chrom"][0], ids, int(chunk["start"].min()), int(chunk["end"].max()))
            units.append({"index": len(units) + 1, "file": str(rel), "genes": ids})
    plan = {"format": "fastbuild-predict-plan/1", "key": key, "model": store.model_identity.get("digest"),
            "genes": genes.height, "genes_to_score": todo.height, "units": units}
    store.write_plan(key, plan)
    return plan


@dataclass(frozen=True)
class ScoringOptions:
    """How units score (see :func:`score_genes`); ``threads`` None: all CPUs, shared among local workers."""

    mantissa_bits: int = 23
    merge_gap: int | None = None
    backend: str = DEFAULT_BACKEND
    threads: int | None = None
    precision: str = "float32"
    chunk_bases: int = 2_000_000
    chunk_genes: int = 100
    resources: dict = field(default_factory=dict)

    def task_options(self) -> dict:
        return {"mantissa_bits": self.mantissa_bits, "merge_gap": self.merge_gap, "backend": self.backend,
                "threads": self.threads, "precision": self.precision}


class ScoringJob(Job):
    """Scoring genes into a store, as the protocol sees it: units are the store's chunk files.

    Made by :func:`plan_scoring` (or :func:`open_scoring_plan` for ``--unit`` / ``--finalise``).
    The coordinating process indexes each finished chunk (:meth:`on_result`) and, at
    finalise, every chunk of the plan, under the store's lock.
    """

    items = "genes scored"

    def __init__(self, store: ScoreStore, plan: dict, genes: pl.DataFrame, fasta: str, model: Model,
                 options: ScoringOptions, source=None):
        self.store, self.plan, self.genes, self.fasta = store, plan, genes, fasta
        self.model, self.options = model, options
        self.source = model if source is None else source  # what tasks name the model by
        self.noun, self.where = f"scoring plan {plan['key']}", f"score store {store.path}"
        self.units = plan["units"]
        self.t0 = time.perf_counter()
        self.nucleotides = self.written = 0
        self._chunks: dict[int, pl.DataFrame] = {}

    def chunk(self, unit: dict) -> pl.DataFrame:
        """The unit's genes (gene_id, chrom, start, end, strand), in the plan's order (joined once per unit)."""
        if unit["index"] not in self._chunks:
            self._chunks[unit["index"]] = self._join(unit)
        return self._chunks[unit["index"]]

    def _join(self, unit: dict) -> pl.DataFrame:
        order = pl.DataFrame({"gene_id": unit["genes"]}, schema={"gene_id": pl.Utf8}).with_row_index("_order")
        chunk = order.join(self.genes, on="gene_id", how="inner").sort("_order").drop("_order")
        if chunk.height != len(unit["genes"]):
            raise FastbuildError(f"the scoring plan {self.plan['key']} names genes the annotation lacks; "
                                 "plan again with --plan-only")
        return chunk

    def nucleotides_to_score(self) -> int:
        """Bases of the genes the plan's units score (flanks not counted)."""
        todo = self.genes.filter(pl.col("gene_id").is_in([g for u in self.units for g in u["genes"]]))
        return int((todo["end"] - todo["start"] + 1).sum())

    def estimate(self) -> tuple[str, float | None]:
        """(engine that would run, expected seconds or None where unmeasured) for the whole plan."""
        engine = check_backend(self.options.backend, self.options.precision)
        return engine, estimate_seconds(self.nucleotides_to_score(), engine, self.options.precision)

    def unit_state(self, unit: dict):
        if self.store.chunk_done(Path(unit["file"]), unit["genes"]):
            return unit, None
        return None, "missing"

    def task(self, unit: dict) -> Task:
        chunk = self.chunk(unit)
        arg = chunk_worker.ScoreTask(str(self.store.path), self.fasta, self.source, chunk, unit["file"],
                                     **self.options.task_options())
        return Task(f"chunk-{self.plan['key']}-{unit['index']:05d}", chunk_worker.score_unit, arg,
                    items=chunk.height, resources=dict(self.options.resources))

    def on_result(self, unit: dict, result: dict) -> None:
        self.nucleotides += result["nucleotides"]
        self.written += 0 if result["reused"] else 1
        self.store.record_chunk(Path(result["file"]), self.chunk(unit))

    def progress_note(self, items: int, n_bases: int) -> str:
        rate = n_bases / max(time.perf_counter() - self.t0, 1e-9)
        return f"{rate:,.0f} nt/s" if rate else ""

    def publish(self, results: list) -> dict:
        self.store.record_chunks([(Path(u["file"]), self.chunk(u)) for u in self.units])
        dt = time.perf_counter() - self.t0
        return {
            "store": str(Path(self.store.path)),
            "model": self.model.spec.name,
            "model_digest": self.model.spec.digest,
            "genes_scored": int(self.plan["genes_to_score"]),
            "genes_skipped": int(self.plan["genes"] - self.plan["genes_to_score"]),
            "chunks_written": self.written,
            "chunks": len(self.units),
            "nucleotides": int(self.nucleotides),
            "seconds": round(dt, 3),
            "nt_per_s": round(self.nucleotides / dt, 1) if dt > 0 else None,
        }


def _open(genome, genes, model, store_dir, options: ScoringOptions, overwrite: bool):
    check_backend(options.backend, options.precision)  # fail before creating the store when the engine is missing
    check_threads(options.threads)
    source = str(Path(model).absolute()) if isinstance(model, str) and Path(model).exists() else model
    model = model if isinstance(model, Model) else load_model(model)
    fasta = str(Path(genome.path if hasattr(genome, "fetch") else genome).absolute())
    genes = _checked_genes(genes)
    store = ScoreStore.create(store_dir, model.identity, overwrite=overwrite, precision=options.precision)
    key = plan_key(model, genes, options.chunk_bases, options.chunk_genes, options.mantissa_bits, options.merge_gap)
    return source, model, fasta, genes, store, key


def plan_scoring(genome, genes: pl.DataFrame, model, store_dir, options: ScoringOptions | None = None,
                 overwrite: bool = False) -> ScoringJob:
    """Plan scoring ``genes`` into the store (the chunks it lacks) and record the plan in ``store/plans/``.

    ``model`` is a :class:`Model` or a :func:`load_model` argument (loaded here, once); tasks name
    it by its path when it has one, so worker processes load it themselves, once each.
    """
    options = options or ScoringOptions()
    source, model, fasta, genes, store, key = _open(genome, genes, model, store_dir, options, overwrite)
    plan = _make_plan(store, genes, key, options.chunk_bases, options.chunk_genes)
    return ScoringJob(store, plan, genes, fasta, model, options, source)


def open_scoring_plan(genome, genes: pl.DataFrame, model, store_dir, options: ScoringOptions | None = None
                      ) -> ScoringJob:
    """The plan :func:`plan_scoring` recorded for these genes and options (for ``--unit`` / ``--finalise``)."""
    options = options or ScoringOptions()
    source, model, fasta, genes, store, key = _open(genome, genes, model, store_dir, options, False)
    plan = store.read_plan(key)
    return ScoringJob(store, plan, genes, fasta, model, options, source)


def share_threads(job: ScoringJob, executor: Executor) -> None:
    """Local worker processes share the CPUs: each unit gets ``CPUs // workers`` threads unless set."""
    jobs = getattr(executor, "jobs", None)  # None: a Dask cluster
    n = len(job.units)
    if job.options.threads is None and jobs and jobs > 1 and n > 1:
        job.options = replace(job.options, threads=max(1, default_threads() // min(jobs, n)))
    if jobs == 1:
        job.source = job.model  # this process: no reload


def run_scoring(job: ScoringJob, executor: Executor, progress: bool = True) -> dict:
    """Score every unfinished unit of ``job`` on ``executor`` and index the store (finalise)."""
    share_threads(job, executor)
    try:
        return protocol.run_all(job, executor, progress)[0]
    finally:
        chunk_worker.release()


def score_genes(genome, genes: pl.DataFrame, model, store_dir, progress: bool = True, overwrite: bool = False,
                threads: int | None = None, chunk_bases: int = 2_000_000, chunk_genes: int = 100,
                mantissa_bits: int = 23, merge_gap: int | None = None, backend: str = DEFAULT_BACKEND, *,
                executor: Executor | None = None, client=None, resources: dict | None = None,
                precision: str = "float32") -> dict:
    """Score genes and add them to a score store; genes already in it are skipped (a run resumes).

    The genes the store lacks are planned as chunks (work units, listed in
    ``store/plans/predict_<key>.json``); an executor scores them, each unit writing its own chunk
    file, and the coordinating process indexes each finished chunk under the store's lock (so
    several runs may write into one store at once). This is :func:`plan_scoring` then
    :func:`run_scoring`; ``fastbuild predict`` reaches it through :mod:`fastbuild.predict`.

    Parameters
    ----------
    genome, genes, model, store_dir
        The genome (or its FASTA); gene_id, chrom, start, end (1-based inclusive), strand; a
        Model or a :func:`load_model` argument; the store's folder (created when missing).
    progress, overwrite : bool
        Show progress; replace a store of a different model (otherwise an error).
    threads : int, optional
        Threads per scoring process (default: all CPUs this process may use, shared out among
        local worker processes).
    chunk_bases, chunk_genes, mantissa_bits, merge_gap : int
        Size bounds of one chunk (a work unit); float32 mantissa bits kept (23 exact, 10 ~
        float16); same-strand genes closer than ``merge_gap`` (default: the flank) share a pass.
    backend : str
        One of :data:`~fastbuild.basemodel.backends.BACKENDS` ("auto": the measured default
        engine; "numpy", "onnx", "openvino"); see :mod:`fastbuild.basemodel.backends`.
    executor : fastbuild.work.Executor, optional
        Runs the units (default: this process); ``client``: a ``distributed.Client`` to use instead.
    resources : dict, optional
        Dask resources each unit asks for (``{"GPU": 1}``).
    precision : {"float32", "bf16"}
        Arithmetic of the forward pass: ``float32`` (every exact engine) or ``bf16`` (opt-in,
        CPUs with AVX-512 BF16 / AMX, the openvino engine; not exact, see docs/engines.md). A
        store holds scores of one precision only.

    Returns
    -------
    dict
        store, model, model_digest, genes_scored, genes_skipped, chunks_written, chunks,
        nucleotides, seconds, nt_per_s.
    """
    options = ScoringOptions(mantissa_bits, merge_gap, backend, threads, precision, chunk_bases, chunk_genes,
                             dict(resources or {}))
    job = plan_scoring(genome, genes, model, store_dir, options, overwrite)
    return run_scoring(job, executor or make_executor(client=client), progress)
