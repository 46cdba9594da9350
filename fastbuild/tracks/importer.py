"""``fastbuild import``: another model's per-base scores -> a score store that ``build`` reads like predict's.

For every gene of the annotation, the source's scores of the gene's strand over ``start..end``
(:mod:`fastbuild.tracks.sources`) become the gene's rows in the store, written with the store's
own writer (:class:`~fastbuild.basemodel.store.ScoreStore`), so a build cannot tell an imported
store from a predicted one. ``neither`` is the source's where it has one, else
``max(0, 1 - donor - acceptor)`` in float32.

A gene is imported when the source scores every base of it; genes with no score at all, or
with some bases missing, are left out and counted. The store's ``model`` is
``{"name": "external", "family": "external", "files": [role, name, sha256 of each source file],
"digest"}``: the sha256 of the files' list, so an import of other files is another model.

Checks, each one line: contigs and lengths against the FASTA, values in [0, 1], something
imported at all (an empty track), and the strands: genes covered only on the other strand, or
tracks whose other strand scores higher than their own at the annotated splice sites
(``--no-strand-check`` turns the latter off), mean the plus and minus tracks are swapped.
The store is written under a temporary name and renamed when complete: a failed import leaves
nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.atomic import fsync_dir, tmp_path
from fastbuild.basemodel.store import ScoreStore
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file
from fastbuild.genome import Genome
from fastbuild.options import replace_flat
from fastbuild.reference import load_reference, resolve_inputs
from fastbuild.tracks.config import ImportConfig
from fastbuild.tracks.sources import BigWigSource, TableSource, bigwigs_of_folder, check_range

__all__ = ["CHUNK_BASES", "CHUNK_GENES", "import_scores"]

log = logging.getLogger(__name__)

CHUNK_GENES = 100  # genes per chunk file, as fastbuild predict writes them
CHUNK_BASES = 2_000_000
OTHER = {"+": "-", "-": "+"}
MIN_SITES = 10  # annotated sites needed before the strand check may refuse


@dataclass
class Tally:
    """What the import found, gene by gene."""

    imported: int = 0
    rows: int = 0
    uncovered: int = 0
    partial: list = field(default_factory=list)
    other_strand_only: list = field(default_factory=list)
    sites: int = 0
    own_higher: int = 0
    other_higher: int = 0

    def to_dict(self) -> dict:
        return {"genes_imported": self.imported, "rows": self.rows, "genes_not_covered": self.uncovered,
                "genes_partly_covered": len(self.partial), "partly_covered_examples": self.partial[:5],
                "genes_other_strand_only": len(self.other_strand_only),
                "strand_check": {"sites": self.sites, "own_strand_higher": self.own_higher,
                                 "other_strand_higher": self.other_higher}}


def _identity(source) -> dict:
    files = [{"role": role, "name": Path(path).name, "sha256": sha256_file(path)}
             for role, path in sorted(source.files.items())]
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"name": "external", "family": "external", "digest": digest, "files": files,
            "channel_order": ["neither", "acceptor", "donor"], "flank": None}


def _open_source(config: ImportConfig, sizes: dict[str, int]):
    if config.table is not None:
        return TableSource(config.table, sizes)
    files = {**(bigwigs_of_folder(config.tracks) if config.tracks is not None else {}), **config.bigwig_files()}
    return BigWigSource(files, sizes)


def _gene_scores(source, gene: dict, tally: Tally) -> np.ndarray | None:
    """The gene's scores [n, 3] (neither, acceptor, donor) when the source covers it, else None (counted)."""
    chrom, strand, start, end = gene["chrom"], gene["strand"], gene["start"], gene["end"]
    donor = source.values("donor", chrom, strand, start, end)
    acceptor = source.values("acceptor", chrom, strand, start, end)
    neither = source.values("neither", chrom, strand, start, end) if source.has("neither", strand) else None
    present = ~np.isnan(donor) & ~np.isnan(acceptor)
    if neither is not None:
        present &= ~np.isnan(neither)
    if not present.all():
        if present.any():
            tally.partial.append(f"{gene['gene_id']} ({chrom}:{start}-{end})")
        elif not np.isnan(source.values("donor", chrom, OTHER[strand], start, end)).any():
            tally.other_strand_only.append(gene["gene_id"])
        else:
            tally.uncovered += 1
        return None
    for kind, values in (("donor", donor), ("acceptor", acceptor), ("neither", neither)):
        if values is not None:
            check_range(values, source.describe(kind, strand), lambda i: f"{chrom}:{start + i} ({strand} strand)")
    if neither is None:
        neither = np.maximum(np.float32(1) - donor - acceptor, np.float32(0)).astype(np.float32)
    return np.stack([neither, acceptor, donor], axis=1)


def _strand_votes(source, gene: dict, scores: np.ndarray, sites: dict, tally: Tally) -> None:
    """At the gene's annotated sites: does its own strand's track score higher than the other strand's?"""
    found = sites.get(gene["gene_id"])
    if not found:
        return
    start, chrom, other = gene["start"], gene["chrom"], OTHER[gene["strand"]]
    for kind, column in (("donor", 2), ("acceptor", 1)):
        pos = found.get(kind)
        if pos is None or pos.size == 0:
            continue
        own = scores[pos - start, column]
        theirs = source.values(kind, chrom, other, int(pos.min()), int(pos.max()))[pos - pos.min()]
        theirs = np.nan_to_num(theirs, nan=0.0)
        tally.sites += pos.size
        tally.own_higher += int(np.count_nonzero(own > theirs))
        tally.other_higher += int(np.count_nonzero(theirs > own))


def _sites_by_gene(splice_sites: pl.DataFrame) -> dict:
    """gene_id -> {"donor": positions, "acceptor": positions} (unique, ascending)."""
    out: dict = {}
    table = splice_sites.select("gene_id", "site_type", "position").unique().sort("position")
    for (gene_id, kind), part in table.group_by(["gene_id", "site_type"]):
        out.setdefault(gene_id, {})[kind] = part["position"].to_numpy()
    return out


def _chunks(genes: pl.DataFrame):
    """Genes (sorted by contig, start) in chunks of one contig, at most CHUNK_GENES genes and CHUNK_BASES bases."""
    for (_,), part in genes.group_by(["chrom"], maintain_order=True):
        rows = part.to_dicts()
        chunk = []
        for row in rows:
            if chunk and (len(chunk) >= CHUNK_GENES or row["end"] - chunk[0]["start"] >= CHUNK_BASES):
                yield chunk
                chunk = []
            chunk.append(row)
        if chunk:
            yield chunk


def _write_store(store: ScoreStore, source, genes: pl.DataFrame, sites: dict, tally: Tally) -> None:
    recorded = []
    for chunk in _chunks(genes):
        frames, kept = [], []
        for gene in chunk:
            scores = _gene_scores(source, gene, tally)
            if scores is None:
                continue
            _strand_votes(source, gene, scores, sites, tally)
            frames.append((gene["gene_id"], np.arange(gene["start"], gene["end"] + 1, dtype=np.int64), scores))
            kept.append(gene)
        if not frames:
            continue
        ids = [f[0] for f in frames]
        rel = store.chunk_name(kept[0]["chrom"], ids, min(g["start"] for g in kept), max(g["end"] for g in kept))
        tally.rows += store.write_chunk(rel, frames, engine="external")
        tally.imported += len(frames)
        recorded.append((rel, pl.DataFrame(kept).select("gene_id", "chrom", "strand", "start", "end")))
    store.record_chunks(recorded)


def _check_result(tally: Tally, config: ImportConfig, source_name: str) -> None:
    """The one-line errors of an import that found nothing, or found the strands swapped."""
    swapped = "the plus and minus tracks are swapped (or the table's strand column is wrong)"
    if len(tally.other_strand_only) > tally.imported:
        raise FastbuildError(f"{source_name}: {len(tally.other_strand_only)} gene(s) are scored only on the other "
                             f"strand (e.g. {tally.other_strand_only[0]}), {tally.imported} on their own: {swapped}")
    if tally.imported == 0:
        if tally.partial:
            raise FastbuildError(f"{source_name}: no gene is scored completely ({len(tally.partial)} partly, e.g. "
                                 f"{tally.partial[0]}); a store needs a score for every base of a gene")
        raise FastbuildError(f"{source_name}: no score lies inside any gene of the annotation (an empty track, or "
                             "another genome's coordinates?)")
    if (config.strand_check and tally.other_higher >= MIN_SITES
            and tally.other_higher > 2 * tally.own_higher):
        raise FastbuildError(f"{source_name}: at {tally.other_higher} of {tally.sites} annotated splice sites the "
                             f"other strand's track scores higher than the gene's own ({tally.own_higher} the "
                             f"reverse): {swapped}; --no-strand-check imports it anyway")


def _target(config: ImportConfig) -> Path:
    dest = Path(config.scores)
    if dest.exists() and not dest.is_dir():
        raise FastbuildError(f"--scores {dest} is a file, not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not config.overwrite:
        raise FastbuildError(f"--scores {dest} is not empty; give a new folder, or --overwrite to replace it")
    return dest


def _publish(tmp: Path, dest: Path) -> None:
    """Move the finished store ``tmp`` to ``dest`` (replacing what is there)."""
    old = None
    if dest.exists():
        old = dest.with_name(f"{tmp.name}.old")
        os.replace(dest, old)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _genes(ann, sizes: dict[str, int]) -> pl.DataFrame:
    order = {c: i for i, c in enumerate(sizes)}
    genes = ann.genes.select("gene_id", "chrom", "strand", "start", "end").filter(pl.col("chrom").is_in(list(sizes)))
    return genes.sort(pl.col("chrom").replace_strict(order, return_dtype=pl.Int64), "start", "gene_id")


def import_scores(config: ImportConfig | None = None, **options) -> dict:
    """Import per-base scores (bigWigs or a table) into a new score store.

    Parameters
    ----------
    config : ImportConfig, optional
        Every option (see :class:`~fastbuild.tracks.config.ImportConfig`); or give them as keywords
        by flat name (``tracks=``, ``scores=``, ``fasta=``, ``gtf`` as ``annotation=`` ...).

    Returns
    -------
    dict
        ``store``, ``model`` (its identity), and the counts: genes imported, rows, genes not
        covered, partly covered, covered only on the other strand, and the strand check's votes.

    Raises
    ------
    FastbuildError
        Bad input, one line each (see the module docstring); nothing is left at ``--scores``.
    """
    config = replace_flat(ImportConfig(), options, "import") if config is None else config
    config.require_source()
    dest = _target(config)
    inputs = resolve_inputs(config.inputs)
    with Genome(inputs.fasta) as genome:
        ann = load_reference(inputs, config.inputs, genome)
        sizes = dict(genome.contigs)
    source = _open_source(config, sizes)
    source_name = "the score table" if source.kind == "table" else "the bigWigs"
    tally, identity = Tally(), _identity(source)
    tmp = tmp_path(dest)
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        store = ScoreStore.create(tmp, identity, extra={"source": {"kind": source.kind}})
        _write_store(store, source, _genes(ann, sizes), _sites_by_gene(ann.splice_sites), tally)
        _check_result(tally, config, source_name)
        _publish(tmp, dest)
    finally:
        source.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if tally.partial:
        log.warning("%d gene(s) partly covered by the tracks were left out (e.g. %s)", len(tally.partial),
                    tally.partial[0])
    return {"store": str(dest), "model": {"name": identity["name"], "digest": identity["digest"],
                                          "files": identity["files"]}, **tally.to_dict()}
