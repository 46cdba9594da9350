"""Score genes with a base model and write a score store.

Each gene is scored on its own strand (reverse-complemented for minus-strand genes) with the
model's full flanking context on both sides (bases past a contig end read as N). Same-strand genes
closer than the model's flank are scored together in one pass: a base's score depends only on the
bases within ``flank`` of it, so the result is identical and the shared context is computed once.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.basemodel.backends import DEFAULT_BACKEND, check_backend, make_runner, score_sequence
from fastbuild.basemodel.models import Model, load_model
from fastbuild.basemodel.store import ScoreStore
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.progress import Progress

GENE_COLUMNS = ("gene_id", "chrom", "start", "end", "strand")
MAX_REGION = 2_000_000  # merged same-strand regions grow no longer than this (single genes may)


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


def _regions(starts, ends, merge_gap, max_region):
    """Group intervals (sorted by start) into merged regions: list of (lo, hi, member indices)."""
    out = []
    for i in np.argsort(starts, kind="stable"):
        s, e = int(starts[i]), int(ends[i])
        if out:
            lo, hi, members = out[-1]
            if s <= hi + merge_gap and max(hi, e) - lo + 1 <= max_region:
                out[-1] = (lo, max(hi, e), [*members, int(i)])
                continue
        out.append((s, e, [int(i)]))
    return out


def score_region(genome, model, chrom, lo, hi, strand, runner=None, backend: str | None = None) -> np.ndarray:
    """Scores of one genomic interval, read on one strand with the model's flanks.

    Parameters
    ----------
    genome : fastbuild.genome.Genome
    model : Model
    chrom : str
    lo, hi : int
        The interval, 1-based inclusive; bases past a contig end read as N.
    strand : {"+", "-"}
        Strand the sequence is read (and scored) on.
    runner : Runner, optional
        A runner of ``model`` (see :func:`fastbuild.basemodel.backends.make_runner`); pass one
        when scoring many regions.
    backend : str, optional
        Backend of the runner made for this call when ``runner`` is None (default "numpy").

    Returns
    -------
    numpy.ndarray
        float32 ``[hi - lo + 1, 3]`` (neither, acceptor, donor), in ascending genomic order.
    """
    flank = model.flank
    codes = genome.fetch(chrom, lo - flank, hi + flank, strand)
    scores = score_sequence(model, codes, backend=backend, runner=runner)
    return scores[::-1] if strand == "-" else scores


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


def _score_chunk(genome, model, runner, chunk: pl.DataFrame, merge_gap: int, on_region) -> list[tuple]:
    """Score the genes of one chunk (one chromosome): frames for :meth:`ScoreStore.write_chunk`.

    Same-strand genes closer than ``merge_gap`` are scored in one region; ``on_region(n_genes,
    n_bases)`` is called after each region.
    """
    chrom = chunk["chrom"][0]
    per_gene = {}
    for strand in ("+", "-"):
        part = chunk.filter(pl.col("strand") == strand)
        if not part.height:
            continue
        st, en, gid = part["start"].to_numpy(), part["end"].to_numpy(), part["gene_id"].to_list()
        for lo, hi, members in _regions(st, en, merge_gap, MAX_REGION):
            sc = score_region(genome, model, chrom, lo, hi, strand, runner)
            for i in members:
                a, b = int(st[i]) - lo, int(en[i]) - lo + 1
                per_gene[gid[i]] = (np.arange(st[i], en[i] + 1, dtype=np.int64), sc[a:b])
            on_region(len(members), hi - lo + 1)
    return [(g, *per_gene[g]) for g in chunk["gene_id"].to_list()]


class _Run:
    """Progress and counts of one :func:`score_genes` run."""

    def __init__(self, n_genes: int, progress: bool):
        self.bar = Progress(n_genes, "genes scored", enabled=bool(progress), every=2.0)
        self.t0 = time.perf_counter()
        self.nucleotides = 0
        self.written = 0

    def on_region(self, n_genes: int, n_bases: int) -> None:
        self.nucleotides += n_bases
        self.bar.update(n_genes, f"{self.nucleotides / max(time.perf_counter() - self.t0, 1e-9):,.0f} nt/s")

    def add_chunk(self, store: ScoreStore, chunk: pl.DataFrame, score, mantissa_bits: int) -> None:
        """Write (unless already on disk) and index one chunk; ``score(chunk)`` gives its frames."""
        ids = chunk["gene_id"].to_list()
        rel = store.chunk_name(chunk["chrom"][0], ids, int(chunk["start"].min()), int(chunk["end"].max()))
        if store.chunk_done(rel, ids):
            self.bar.update(chunk.height, "reused a chunk already on disk")
        else:
            store.write_chunk(rel, score(chunk), mantissa_bits)
            self.written += 1
        store.record_chunk(rel, chunk)

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


def score_genes(genome, genes: pl.DataFrame, model, store_dir, progress: bool = True, overwrite: bool = False,
                threads: int | None = None, chunk_bases: int = 5_000_000, chunk_genes: int = 400,
                mantissa_bits: int = 23, merge_gap: int | None = None, backend: str = DEFAULT_BACKEND) -> dict:
    """Score genes and add them to a score store; genes already in it are skipped (a run resumes).

    Parameters
    ----------
    genome : fastbuild.genome.Genome or path
        The genome (or its FASTA file).
    genes : polars.DataFrame
        gene_id, chrom, start, end (1-based inclusive), strand.
    model : Model, or anything :func:`load_model` accepts
        ("spliceai", .h5 / .pt paths).
    store_dir : path
        Directory of the store (created when missing).
    progress : bool
        Show a progress bar.
    overwrite : bool
        Replace a store written by a different model (otherwise that is an error).
    threads : int, optional
        Worker threads (default: all CPUs this process may use).
    chunk_bases, chunk_genes : int
        Size bounds of one Parquet chunk.
    mantissa_bits : int
        Keep this many float32 mantissa bits (23 = exact; 10 = float16 precision).
    merge_gap : int, optional
        Same-strand genes closer than this are scored in one pass (default: the flank).
    backend : str
        "numpy" (default, exact numpy/numba forward pass) or "onnx" (onnxruntime CPU, needs the
        ``onnx`` extra; equal to numpy within 1e-4); see :mod:`fastbuild.basemodel.backends`.

    Returns
    -------
    dict
        store, model, model_digest, genes_scored, genes_skipped, chunks_written, chunks,
        nucleotides, seconds, nt_per_s.
    """
    check_backend(backend)  # fail before creating the store when onnxruntime is missing
    model = model if isinstance(model, Model) else load_model(model)
    genome = genome if hasattr(genome, "fetch") else Genome(genome)
    genes = _checked_genes(genes)
    store = ScoreStore.create(store_dir, model.identity, overwrite=overwrite)
    todo = genes.filter(~pl.col("gene_id").is_in(store.genes()))
    merge_gap = model.flank if merge_gap is None else int(merge_gap)
    chunks = [c for c in plan_chunks(todo, chunk_bases, chunk_genes) if c.height]
    run = _Run(int(todo.height), progress)
    with make_runner(model, backend, threads) as runner:
        for chunk in chunks:
            run.add_chunk(store, chunk, lambda c: _score_chunk(genome, model, runner, c, merge_gap, run.on_region),
                          mantissa_bits)
    return run.summary(store_dir, model, genes.height, todo.height, len(chunks))
