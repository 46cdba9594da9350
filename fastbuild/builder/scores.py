"""Streaming, per-gene reads of a score store for the builder.

Reads one chunk file at a time and only its numeric columns, so a batch of genes costs
memory for one chunk (about ``chunk_genes`` genes of scores), not for the whole batch.
Rows of a gene in a chunk are contiguous and in ascending genomic position (the store's
contract); the reader checks that each gene is covered position by position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.coords import orient
from fastbuild.errors import FastbuildError

SCORE_COLUMNS = ("donor", "acceptor", "neither")


def iter_gene_scores(store, genes: pl.DataFrame):
    """Yield ``(gene row, donor, acceptor, neither)`` in transcript orientation.

    Parameters
    ----------
    store : fastbuild.basemodel.store.ScoreStore
    genes : polars.DataFrame
        Rows of the genes table (gene_id, chrom, start, end, strand, ...), in the order wanted.
    """
    if genes.height == 0:
        return
    idx = store.index().select("gene_id", "file")
    where = genes.select("gene_id").with_row_index("_order").join(idx, on="gene_id", how="left")
    missing = where.filter(pl.col("file").is_null())["gene_id"].to_list()
    if missing:
        raise FastbuildError(
            f"score store {store.path} has no scores for {len(missing)} gene(s), e.g. {', '.join(missing[:5])}; "
            "score them with fastbuild predict"
        )
    files = where.sort("_order").unique("file", keep="first", maintain_order=True)["file"].to_list()
    rows = {r["gene_id"]: r for r in genes.iter_rows(named=True)}
    for file in files:
        ids = where.filter(pl.col("file") == file).sort("_order")["gene_id"].to_list()
        spans = _read_chunk(Path(store.path) / file, set(ids))
        for gene_id in ids:
            info = rows[gene_id]
            got = spans.get(gene_id)
            n = info["end"] - info["start"] + 1
            if got is None or got[0].size != n or got[0][0] != info["start"] or got[0][-1] != info["end"]:
                raise FastbuildError(
                    f"score store {store.path} does not cover gene {gene_id} "
                    f"({info['chrom']}:{info['start']}-{info['end']}) position by position; "
                    "rescore it with this annotation (fastbuild predict)"
                )
            yield (info, *(orient(c, info["strand"]) for c in got[1:]))
        del spans


def _read_chunk(path: Path, wanted: set) -> dict:
    """gene_id -> (positions, donor, acceptor, neither) for the wanted genes of one chunk."""
    try:
        table = pq.read_table(path, columns=["gene_id", "position", *SCORE_COLUMNS])
    except (OSError, pa.ArrowException) as exc:
        raise FastbuildError(f"cannot read score chunk {path}: {exc}") from None
    gene = table.column("gene_id").combine_chunks()
    if pa.types.is_dictionary(gene.type):
        names = gene.dictionary.to_pylist()
        codes = gene.indices.to_numpy(zero_copy_only=False)
    else:
        names, codes = np.unique(gene.to_numpy(zero_copy_only=False), return_inverse=True)
        names = names.tolist()
    cols = [table.column(c).to_numpy() for c in ("position", *SCORE_COLUMNS)]
    # contiguous runs of one gene
    change = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], change]) if codes.size else np.zeros(0, np.int64)
    stops = np.concatenate([change, [codes.size]]) if codes.size else np.zeros(0, np.int64)
    out = {}
    for a, b in zip(starts.tolist(), stops.tolist()):
        name = names[codes[a]]
        if name in wanted:
            out[name] = tuple(np.ascontiguousarray(c[a:b]) for c in cols)
    return out
