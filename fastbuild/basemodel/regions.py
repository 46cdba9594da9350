"""Scoring genomic regions: same-strand genes closer than the model's flank share one pass.

A base's score depends only on the bases within ``flank`` of it, so scoring merged regions gives
the same result as scoring each gene alone, computing the shared context once. The regions of a
chunk reach the runner in batches (:func:`score_regions`): the numpy runner scores short ones
one network per worker thread, with no synchronisation inside the layers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fastbuild.basemodel.backends import score_sequence
from fastbuild.errors import FastbuildError

MAX_REGION = 2_000_000  # merged same-strand regions grow no longer than this (single genes may)
BATCH_BASES = 1_000_000  # score_chunk hands the runner regions of about this many bases at a time


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
        Backend of the runner made for this call when ``runner`` is None (default "auto": see
        :func:`fastbuild.basemodel.backends.check_backend`).

    Returns
    -------
    numpy.ndarray
        float32 ``[hi - lo + 1, 3]`` (neither, acceptor, donor), in ascending genomic order.
    """
    flank = model.flank
    codes = genome.fetch(chrom, lo - flank, hi + flank, strand)
    scores = score_sequence(model, codes, backend=backend, runner=runner)
    return scores[::-1] if strand == "-" else scores


def score_regions(genome, model, chrom, intervals, runner) -> list[np.ndarray]:
    """:func:`score_region` of each (lo, hi, strand) interval of one chromosome, with one runner.

    Runners with a ``score_many`` method (the numpy backend) score the intervals together (the
    same scores, faster for short intervals); others one by one.
    """
    if not hasattr(runner, "score_many"):
        return [score_region(genome, model, chrom, lo, hi, strand, runner) for lo, hi, strand in intervals]
    if not runner.is_bound_to(model):
        raise FastbuildError("the runner given runs a different model")
    flank = model.flank
    codes = [genome.fetch(chrom, lo - flank, hi + flank, strand) for lo, hi, strand in intervals]
    scores = runner.score_many(codes)
    return [sc[::-1] if strand == "-" else sc for sc, (_, _, strand) in zip(scores, intervals, strict=True)]


def _batches(regions, max_bases):
    """Consecutive runs of regions (tuples starting strand, lo, hi) of at most ``max_bases``
    scored bases each (a longer region alone)."""
    batch, bases = [], 0
    for r in regions:
        n = r[2] - r[1] + 1
        if batch and bases + n > max_bases:
            yield batch
            batch, bases = [], 0
        batch.append(r)
        bases += n
    if batch:
        yield batch


def score_chunk(genome, model, runner, chunk: pl.DataFrame, merge_gap: int, on_region) -> list[tuple]:
    """Score the genes of one chunk (one chromosome): frames for :meth:`ScoreStore.write_chunk`.

    Same-strand genes closer than ``merge_gap`` are scored in one region; ``on_region(n_genes,
    n_bases)`` is called after each region. Regions are handed to the runner in batches of up
    to :data:`BATCH_BASES` bases (see :func:`score_regions`).
    """
    chrom = chunk["chrom"][0]
    todo = []  # (strand, lo, hi, members, starts, ends, gene ids), strand "+" first
    for strand in ("+", "-"):
        part = chunk.filter(pl.col("strand") == strand)
        if not part.height:
            continue
        st, en, gid = part["start"].to_numpy(), part["end"].to_numpy(), part["gene_id"].to_list()
        todo += [(strand, lo, hi, members, st, en, gid) for lo, hi, members in _regions(st, en, merge_gap, MAX_REGION)]
    per_gene = {}
    for batch in _batches(todo, BATCH_BASES):
        scores = score_regions(genome, model, chrom, [(lo, hi, strand) for strand, lo, hi, *_ in batch], runner)
        for (_, lo, hi, members, st, en, gid), sc in zip(batch, scores, strict=True):
            for i in members:
                a, b = int(st[i]) - lo, int(en[i]) - lo + 1
                per_gene[gid[i]] = (np.arange(st[i], en[i] + 1, dtype=np.int64), sc[a:b])
            on_region(len(members), hi - lo + 1)
    return [(g, *per_gene[g]) for g in chunk["gene_id"].to_list()]
