"""Scoring genomic regions: same-strand genes closer than the model's flank share one pass.

A base's score depends only on the bases within ``flank`` of it, so scoring merged regions gives
the same result as scoring each gene alone, computing the shared context once.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fastbuild.basemodel.backends import score_sequence

MAX_REGION = 2_000_000  # merged same-strand regions grow no longer than this (single genes may)


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


def score_chunk(genome, model, runner, chunk: pl.DataFrame, merge_gap: int, on_region) -> list[tuple]:
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
