"""Score genes with a base model and write a score store.

Each gene is scored on its own strand (reverse-complemented for minus-strand genes) with the
model's full flanking context on both sides (bases past a contig end read as N). Same-strand genes
closer than the model's flank are scored together in one pass: a base's score depends only on the
bases within ``flank`` of it, so the result is identical and the shared context is computed once.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import polars as pl

from fastbuild.basemodel import chunk_worker
from fastbuild.basemodel.backends import DEFAULT_BACKEND, check_backend
from fastbuild.basemodel.models import Model, load_model
from fastbuild.basemodel.runner import check_threads, default_threads
from fastbuild.basemodel.store import ScoreStore
from fastbuild.errors import FastbuildError
from fastbuild.progress import Progress
from fastbuild.work import Executor, Task, make_executor

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


ACTIONS = ("run", "plan", "unit", "finalise")


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


def _tasks(plan: dict, genes: pl.DataFrame, store_dir, fasta: str, source, opts: dict) -> list[chunk_worker.ScoreTask]:
    rows = genes.with_row_index("_row")
    tasks = []
    for u in plan["units"]:
        order = pl.DataFrame({"gene_id": u["genes"]}, schema={"gene_id": pl.Utf8}).with_row_index("_order")
        chunk = order.join(rows, on="gene_id", how="inner").sort("_order").drop("_order", "_row")
        if chunk.height != len(u["genes"]):
            raise FastbuildError(f"the scoring plan {plan['key']} names genes the annotation lacks; "
                                 "plan again with --plan-only")
        tasks.append(chunk_worker.ScoreTask(str(store_dir), fasta, source, chunk, u["file"], **opts))
    return tasks


class _Run:
    """Progress, counts and index updates of one :func:`score_genes` run (in the main process)."""

    def __init__(self, store: ScoreStore, n_genes: int, progress: bool, bases_from_results: bool = False):
        self.store = store
        self.bases_from_results = bases_from_results
        self.bar = Progress(n_genes, "genes scored", enabled=bool(progress), every=2.0)
        self.t0 = time.perf_counter()
        self.nucleotides = 0
        self.written = 0

    def on_progress(self, n_genes: int, n_bases: int) -> None:
        self.nucleotides += n_bases
        rate = self.nucleotides / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(n_genes, f"{rate:,.0f} nt/s" if rate else "")

    def on_result(self, unit: Task, result: dict) -> None:
        if self.bases_from_results:
            self.nucleotides += result["nucleotides"]
        self.written += 0 if result["reused"] else 1
        self.store.record_chunk(Path(result["file"]), unit.arg.chunk)

    def summary(self, store_dir, model: Model, n_genes: int, n_todo: int, n_chunks: int) -> dict:
        dt = time.perf_counter() - self.t0
        return {
            "store": str(Path(store_dir)),
            "model": model.spec.name,
            "model_digest": model.spec.digest,
            "genes_scored": int(n_todo),
            "genes_skipped": int(n_genes - n_todo),
            "chunks_written": self.written,
            "chunks": n_chunks,
            "nucleotides": int(self.nucleotides),
            "seconds": round(dt, 3),
            "nt_per_s": round(self.nucleotides / dt, 1) if dt > 0 else None,
        }


def _finalise(store: ScoreStore, plan: dict, tasks: list) -> None:
    """Index every chunk of the plan; FastbuildError naming the chunks not on disk."""
    missing = [f"unit {u['index']} ({u['file']})" for u in plan["units"]
               if not store.chunk_done(Path(u["file"]), u["genes"])]
    if missing:
        raise FastbuildError(
            f"score store {store.path}: unfinished scoring plan {plan['key']}: {len(plan['units']) - len(missing)} of "
            f"{len(plan['units'])} units done; missing {', '.join(missing[:3])}"
            f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}; run them (--unit J), then --finalise")
    store.record_chunks([(Path(t.file), t.chunk) for t in tasks])


def _prepare(genome, genes, model, store_dir, overwrite, threads, chunk_bases, chunk_genes, mantissa_bits,
             merge_gap, backend, action, precision="float32"):
    """Checks, the store, and the plan (made now, or read for ``unit`` / ``finalise``)."""
    check_backend(backend, precision)  # fail before creating the store when the engine is missing
    if threads is not None:
        check_threads(threads)
    source = str(Path(model).absolute()) if isinstance(model, str) and Path(model).exists() else model
    model = model if isinstance(model, Model) else load_model(model)
    fasta = str(Path(genome.path if hasattr(genome, "fetch") else genome).absolute())
    genes = _checked_genes(genes)
    store = ScoreStore.create(store_dir, model.identity, overwrite=overwrite and action == "run", precision=precision)
    key = plan_key(model, genes, chunk_bases, chunk_genes, mantissa_bits, merge_gap)
    plan = store.read_plan(key) if action in ("unit", "finalise") else _make_plan(store, genes, key, chunk_bases,
                                                                                   chunk_genes)
    return source, model, fasta, genes, store, key, plan


def score_genes(genome, genes: pl.DataFrame, model, store_dir, progress: bool = True, overwrite: bool = False,
                threads: int | None = None, chunk_bases: int = 2_000_000, chunk_genes: int = 100,
                mantissa_bits: int = 23, merge_gap: int | None = None, backend: str = DEFAULT_BACKEND, *,
                executor: Executor | None = None, client=None, action: str = "run", unit: int | None = None,
                resources: dict | None = None, precision: str = "float32") -> dict:
    """Score genes and add them to a score store; genes already in it are skipped (a run resumes).

    The genes the store lacks are planned as chunks (work units, listed in
    ``store/plans/predict_<key>.json``); an executor scores them, each unit writing its own chunk
    file, and the coordinating process indexes each finished chunk under the store's lock (so
    several runs may write into one store at once).

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
        "numpy" (exact) or "onnx" (extra ``onnx``); see :mod:`fastbuild.basemodel.backends`.
    executor : fastbuild.work.Executor, optional
        Runs the units (default: this process); ``client``: a ``distributed.Client`` to use instead.
    action : {"run", "plan", "unit", "finalise"}
        ``plan`` writes the plan only; ``unit`` scores unit number ``unit`` (1-based) of the plan
        already written; ``finalise`` indexes every unit of that plan (refusing, naming missing ones).
    resources : dict, optional
        Dask resources each unit asks for (``{"GPU": 1}``).
    precision : {"float32", "bf16"}
        Arithmetic of the forward pass: ``float32`` (every exact engine) or ``bf16`` (opt-in,
        CPUs with AVX-512 BF16 / AMX, the openvino engine; not exact, see the README study). A
        store holds scores of one precision only.

    Returns
    -------
    dict
        store, model, model_digest, genes_scored, genes_skipped, chunks_written, chunks,
        nucleotides, seconds, nt_per_s (with ``action="plan"``: plan, units, genes).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
    source, model, fasta, genes, store, key, plan = _prepare(genome, genes, model, store_dir, overwrite, threads,
                                                             chunk_bases, chunk_genes, mantissa_bits, merge_gap,
                                                             backend, action, precision)
    if action == "plan":
        return {"plan": str(store.plan_path(key)), "units": len(plan["units"]), "genes": plan["genes_to_score"]}
    opts = {"mantissa_bits": mantissa_bits, "merge_gap": merge_gap, "backend": backend, "threads": threads,
            "precision": precision}
    return _execute(executor or make_executor(client=client), plan, genes, store, fasta, model, source, opts,
                    action, unit, resources, progress)


def _execute(executor, plan, genes, store, fasta, model, source, opts, action, unit, resources, progress) -> dict:
    """Run (or just finalise) the plan's units; see :func:`score_genes`."""
    n, key = len(plan["units"]), plan["key"]
    local_jobs = getattr(executor, "jobs", None)  # None: a Dask cluster
    if opts["threads"] is None and local_jobs and local_jobs > 1 and n > 1:
        opts = {**opts, "threads": max(1, default_threads() // min(local_jobs, n))}
    tasks = _tasks(plan, genes, store.path, fasta, model if local_jobs == 1 else source, opts)
    run = _Run(store, plan["genes_to_score"], progress and action == "run", not executor.reports_items)
    try:
        if action == "unit":
            return _one_unit(tasks, unit)
        if action == "run":
            units = [Task(f"chunk-{key}-{i + 1:05d}", chunk_worker.score_unit, t, items=t.chunk.height,
                          resources=dict(resources or {})) for i, t in enumerate(tasks)]
            executor.run(units, run.on_result, run.on_progress)
        _finalise(store, plan, tasks)
    finally:
        chunk_worker.release()
    return run.summary(store.path, model, plan["genes"], plan["genes_to_score"], n)


def _one_unit(tasks: list, unit: int | None) -> dict:
    n = len(tasks)
    if unit is None or not 1 <= unit <= n:
        raise FastbuildError(f"--unit must be within 1..{n} (the scoring plan has {n} units)")
    return {"unit": unit, "units": n, **chunk_worker.score_unit(tasks[unit - 1])}
