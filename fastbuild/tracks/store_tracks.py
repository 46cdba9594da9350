"""A score store -> bigWigs of donor, acceptor and neither (``fastbuild tracks --scores``).

One file per score and strand (``--strands split``: ``donor.plus.bw`` ...) or per score
(``collapse``: ``donor.bw``), see :mod:`fastbuild.tracks.strands`. The store is read one contig
(and strand) at a time, only the genes of that contig, while the file is written.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fastbuild.basemodel.store import SCORE_COLUMNS, ScoreStore
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file
from fastbuild.tracks.contig_sizes import check_ends, match_contigs
from fastbuild.tracks.strands import groups, track_file, write_strand_track

__all__ = ["export_store"]


def _genes(store: ScoreStore, sizes: dict[str, int]) -> pl.DataFrame:
    """The store's index with a ``contig`` column: the FASTA's name of each gene's contig."""
    idx = store.index()
    if idx.height == 0:
        raise FastbuildError(f"score store {store.path} holds no gene; nothing to export")
    mapping = match_contigs({c: None for c in idx["chrom"].unique(maintain_order=True).to_list()}, sizes,
                            f"score store {store.path}")
    idx = idx.with_columns(contig=pl.col("chrom").replace_strict(mapping, return_dtype=pl.Utf8))
    check_ends(dict(idx.group_by("contig").agg(pl.col("end").max()).iter_rows()), sizes, f"score store {store.path}")
    return idx


def _write_one(store: ScoreStore, genes: pl.DataFrame, name: str, path: Path, sizes: dict[str, int]) -> dict:
    """Write the bigWig of score ``name`` for ``genes`` (already the file's strands); its record."""
    by_contig = {c: part for (c,), part in genes.group_by(["contig"], maintain_order=True)}

    def load(genes_of_strand):
        scores = store.load(genes_of_strand["gene_id"].to_list()).select("position", name)
        return scores["position"].to_numpy(), scores[name].to_numpy()

    intervals, conflicts = write_strand_track(path, sizes, by_contig, name, load)
    return {"file": path.name, "name": name, "intervals": intervals, "conflicts": conflicts,
            "genes": genes.height, "sha256": sha256_file(path)}


def export_store(store_path, out: Path, sizes: dict[str, int], mode: str) -> dict:
    """Write the bigWigs of a score store into ``out``.

    Parameters
    ----------
    store_path : str or Path
        The score store (``fastbuild predict --scores``).
    out : Path
        The output folder (exists).
    sizes : dict
        Contig -> length of the genome FASTA (the bigWigs' header).
    mode : {'split', 'collapse'}
        See :mod:`fastbuild.tracks.strands`.

    Returns
    -------
    dict
        ``source`` (what was read) and ``files`` (one record per file written: file, name, strand,
        intervals, conflicts, genes, sha256); ``empty`` lists files left out for want of genes.
    """
    store = ScoreStore(store_path)
    genes = _genes(store, sizes)
    files, empty = [], []
    for name in SCORE_COLUMNS:
        for strand, strands in groups(mode):
            part = genes.filter(pl.col("strand").is_in(list(strands)))
            target = out / track_file(name, strand)
            if part.height == 0:
                empty.append(target.name)
                continue
            files.append({**_write_one(store, part, name, target, sizes), "strand": strand})
    source = {"kind": "scores", "path": str(Path(store_path).absolute()), "model": store.model_identity.get("name"),
              "digest": store.model_identity.get("digest"), "precision": store.precision, "genes": genes.height}
    return {"source": source, "files": files, "empty": empty}
