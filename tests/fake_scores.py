"""Synthetic base-model scores for tests: a deterministic, imperfect 'model'.

Each annotated site gets a high score (0.9) except every fourth (a miss, 0.2); a few random
positions per gene get false peaks (0.7); everything else is small noise. Written as a real
score store so the builder reads it the way it reads model output.
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl

from fastbuild.basemodel.store import ScoreStore


def fake_scores(gene: dict, sites: pl.DataFrame, seed: int = 0) -> np.ndarray:
    """[n, 3] scores (neither, acceptor, donor) in ascending genomic order for one gene."""
    start, end = gene["start"], gene["end"]
    n = end - start + 1
    rng = np.random.default_rng([seed, zlib.crc32(gene["gene_id"].encode())])
    donor = rng.uniform(0, 0.05, n).astype(np.float32)
    acceptor = rng.uniform(0, 0.05, n).astype(np.float32)
    s = sites.filter(pl.col("gene_id") == gene["gene_id"]).unique(["position", "site_type"]).sort("position")
    for i, (pos, kind) in enumerate(s.select("position", "site_type").iter_rows()):
        target = donor if kind == "donor" else acceptor
        target[pos - start] = 0.2 if i % 4 == 3 else 0.9
    for p in rng.integers(0, n, size=max(1, n // 2000)):
        donor[p] = max(donor[p], 0.7)
    neither = np.clip(1 - donor - acceptor, 0, 1)
    return np.stack([neither, acceptor, donor], axis=1)


def write_fake_store(
    path, genes: pl.DataFrame, sites: pl.DataFrame, seed: int = 0, chunk_genes: int = 400
) -> ScoreStore:
    """A score store of :func:`fake_scores` for ``genes``, chunked per chromosome like a real one."""
    store = ScoreStore.create(path, {"name": "fake", "digest": "fake-model"})
    parts = []
    for by_chrom in genes.sort("chrom", "start").partition_by("chrom", maintain_order=True):
        parts += [by_chrom.slice(i, chunk_genes) for i in range(0, by_chrom.height, chunk_genes)]
    for chunk in parts:
        ids = chunk["gene_id"].to_list()
        rel = store.chunk_name(chunk["chrom"][0], ids, int(chunk["start"].min()), int(chunk["end"].max()))
        frames = [(g["gene_id"], np.arange(g["start"], g["end"] + 1), fake_scores(g, sites, seed))
                  for g in chunk.iter_rows(named=True)]
        store.write_chunk(rel, frames)
        store.record_chunk(rel, chunk)
    return store
