"""Score genes with a base model and write a score store.

Each gene is scored on its own strand (reverse-complemented for minus-strand genes) with the
model's full flanking context on both sides (bases past a contig end read as N). Same-strand genes
closer than the model's flank are scored together in one pass: a base's score depends only on the
bases within ``flank`` of it, so the result is identical and the shared context is computed once.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.basemodel.forward import Runner, score_sequence
from fastbuild.basemodel.models import Model, load_model
from fastbuild.basemodel.store import ScoreStore
from fastbuild.errors import FastbuildError

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
                out[-1] = (lo, max(hi, e), members + [int(i)])
                continue
        out.append((s, e, [int(i)]))
    return out


def score_region(genome, model, chrom, lo, hi, strand, runner=None, backend: str = "numpy") -> np.ndarray:
    """Scores [hi - lo + 1, 3] (neither, acceptor, donor) of chrom:lo-hi, ascending genomic order."""
    flank = model.flank
    codes = genome.fetch(chrom, lo - flank, hi + flank, strand)
    scores = score_sequence(model, codes, runner=runner, backend=backend)
    return scores[::-1] if strand == "-" else scores


def score_genes(
    genome,
    genes: pl.DataFrame,
    model,
    store_dir,
    progress: bool = True,
    overwrite: bool = False,
    threads: int | None = None,
    chunk_bases: int = 5_000_000,
    chunk_genes: int = 400,
    mantissa_bits: int = 23,
    merge_gap: int | None = None,
    backend: str = "numpy",
) -> dict:
    """Score ``genes`` and add them to the score store at ``store_dir``.

    Parameters
    ----------
    genome : fastbuild.genome.Genome (or a FASTA path)
    genes : polars.DataFrame with gene_id, chrom, start, end (1-based inclusive), strand
    model : Model, or anything :func:`load_model` accepts ("spliceai", .h5 / .pt paths)
    store_dir : directory of the store (created when missing)
    overwrite : replace a store written by a different model (otherwise that is an error)
    threads : worker threads (default: all CPUs this process may use)
    chunk_bases, chunk_genes : size bounds of one Parquet chunk
    mantissa_bits : keep this many float32 mantissa bits (23 = exact; 10 = float16 precision)
    merge_gap : same-strand genes closer than this are scored in one pass (default: the flank)
    backend : "numpy" (default, exact numpy/numba forward pass) or "onnx" (onnxruntime CPU,
        needs the ``onnx`` extra; equal to numpy within 1e-4)

    Genes already in the store are skipped (a run resumes where it stopped). Returns a summary
    dict (genes_scored, genes_skipped, chunks_written, nucleotides, seconds, nt_per_s, store, model).
    """
    if backend not in ("numpy", "onnx"):
        raise FastbuildError(f"unknown base-model backend {backend!r} (use 'numpy' or 'onnx')")
    if backend == "onnx":  # fail before creating the store when onnxruntime is missing
        from fastbuild.basemodel.onnx_backend import _require

        _require()
    if not isinstance(model, Model):
        model = load_model(model)
    if not hasattr(genome, "fetch"):
        from fastbuild.genome import Genome

        genome = Genome(genome)
    missing_cols = [c for c in GENE_COLUMNS if c not in genes.columns]
    if missing_cols:
        raise FastbuildError(f"gene table lacks column(s) {', '.join(missing_cols)}")
    genes = genes.select(GENE_COLUMNS).cast({"gene_id": pl.Utf8, "chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64, "strand": pl.Utf8})
    dup = genes.filter(pl.col("gene_id").is_duplicated())
    if dup.height:
        raise FastbuildError(f"gene id {dup['gene_id'][0]} appears more than once in the gene table")
    bad = genes.filter(~pl.col("strand").is_in(["+", "-"]) | (pl.col("end") < pl.col("start")))
    if bad.height:
        raise FastbuildError(f"gene {bad['gene_id'][0]} has no usable strand or coordinates")

    store = ScoreStore.create(store_dir, model.identity, overwrite=overwrite)
    done = set(store.genes())
    todo = genes.filter(~pl.col("gene_id").is_in(list(done)))
    skipped = genes.height - todo.height
    merge_gap = model.flank if merge_gap is None else int(merge_gap)
    chunks = plan_chunks(todo, chunk_bases, chunk_genes)
    chunks = [c for c in chunks if c.height]
    if backend == "onnx":
        from fastbuild.basemodel.onnx_backend import OnnxRunner

        runner = OnnxRunner(model, threads=threads)
    else:
        runner = Runner(threads)
    from fastbuild.progress import Progress

    bar = Progress(int(todo.height), "genes scored", enabled=bool(progress), every=2.0)
    t0 = time.perf_counter()
    total_nt = 0
    written = 0
    try:
        for ci, chunk in enumerate(chunks):
            chrom = chunk["chrom"][0]
            ids = chunk["gene_id"].to_list()
            first, last = int(chunk["start"].min()), int(chunk["end"].max())
            tag = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:8]
            rel = store.chunk_path(chrom, first, last).with_name(f"chunk_{first:010d}_{last:010d}_{tag}.parquet")
            if store.chunk_done(rel, ids):
                bar.update(chunk.height, "reused a chunk already on disk")
            else:
                per_gene = {}
                for strand in ("+", "-"):
                    part = chunk.filter(pl.col("strand") == strand)
                    if not part.height:
                        continue
                    st, en, gid = part["start"].to_numpy(), part["end"].to_numpy(), part["gene_id"].to_list()
                    for lo, hi, members in _regions(st, en, merge_gap, MAX_REGION):
                        sc = score_region(genome, model, chrom, lo, hi, strand, runner)
                        total_nt += hi - lo + 1
                        for i in members:
                            a, b = int(st[i]) - lo, int(en[i]) - lo + 1
                            per_gene[gid[i]] = (np.arange(st[i], en[i] + 1, dtype=np.int64), sc[a:b])
                        dt = time.perf_counter() - t0
                        bar.update(len(members), f"{total_nt / max(dt, 1e-9):,.0f} nt/s")
                frames = [(g, *per_gene[g]) for g in ids]
                store.write_chunk(rel, frames, mantissa_bits)
                written += 1
            index = chunk.with_columns(
                pl.lit(str(rel)).alias("file"), (pl.col("end") - pl.col("start") + 1).alias("n_rows")
            )
            store.update_index(index)
    finally:
        runner.close()
    dt = time.perf_counter() - t0
    return {
        "store": str(Path(store_dir)),
        "model": model.spec.name,
        "model_digest": model.spec.digest,
        "genes_scored": int(todo.height),
        "genes_skipped": int(skipped),
        "chunks_written": written,
        "chunks": len(chunks),
        "nucleotides": int(total_nt),
        "seconds": round(dt, 3),
        "nt_per_s": round(total_nt / dt, 1) if dt > 0 else None,
    }
