"""A batch of genes -> :class:`~fastbuild.builder.rows.GeneInput` objects, one gene at a time.

Joins the sources of a gene's rows: its strand-oriented sequence (decoded once), its
base-model scores (streamed from the score store chunk by chunk), its annotated sites (as
offsets in transcript orientation, per gene and, in transcript mode, per transcript) and, with
``--track``, the tracks' values over the gene (read per gene, like its sequence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from fastbuild.annotation import Annotation
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.rows import GeneInput, TranscriptSites
from fastbuild.coords import to_offset
from fastbuild.genome import Genome
from fastbuild.tracks.features import open_build_tracks


@dataclass
class GeneSites:
    """Annotated sites of one gene (one row per transcript x site), as numpy arrays."""

    position: np.ndarray
    is_donor: np.ndarray
    transcript_id: np.ndarray

    def offsets(self, info: dict, transcript_id: str | None = None):
        """Unique donor and acceptor offsets (transcript orientation) within the gene."""
        sel = slice(None) if transcript_id is None else self.transcript_id == transcript_id
        pos, donor = self.position[sel], self.is_donor[sel]
        args = (info["start"], info["end"], info["strand"])
        return np.unique(to_offset(pos[donor], *args)), np.unique(to_offset(pos[~donor], *args))


NO_SITES = GeneSites(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, object))


def sites_by_gene(splice_sites: pl.DataFrame, gene_ids: pl.Series) -> dict[str, GeneSites]:
    """gene_id -> :class:`GeneSites` for ``gene_ids`` (one pass, no per-gene filtering)."""
    s = splice_sites.filter(pl.col("gene_id").is_in(gene_ids.implode())).sort("gene_id")
    if s.height == 0:
        return {}
    gid = s["gene_id"].to_numpy()
    pos = s["position"].to_numpy()
    donor = (s["site_type"] == "donor").to_numpy()
    tx = s["transcript_id"].to_numpy()
    bounds = np.flatnonzero(gid[1:] != gid[:-1]) + 1
    starts, stops = np.concatenate([[0], bounds]), np.concatenate([bounds, [gid.size]])
    return {gid[a]: GeneSites(pos[a:b], donor[a:b], tx[a:b]) for a, b in zip(starts, stops, strict=True)}


def _transcripts(info: dict, spans: pl.DataFrame | None, sites: GeneSites) -> list[TranscriptSites]:
    """The gene's transcripts as offset spans with their own sites (sorted by transcript id)."""
    if spans is None:
        return []
    out = []
    for tid, ts, te in spans.sort("transcript_id").select("transcript_id", "start", "end").iter_rows():
        a, b = sorted(to_offset(np.array([ts, te]), info["start"], info["end"], info["strand"]).tolist())
        out.append(TranscriptSites(tid, a, b, *sites.offsets(info, tid)))
    return out


def gene_inputs(genome: Genome, store, genes: pl.DataFrame, ann: Annotation, config: BuildConfig):
    """Yield :class:`GeneInput` for each of ``genes`` (one batch), sequence decoded once."""
    sites = sites_by_gene(ann.splice_sites, genes["gene_id"])
    spans = {}
    if config.transcript_mode:
        t = ann.transcripts.filter(pl.col("gene_id").is_in(genes["gene_id"].implode()))
        spans = {g: df for (g,), df in t.group_by(["gene_id"])}
    tracks = open_build_tracks(config, genome.contigs, genes["chrom"].to_list())  # None without --track
    try:
        for info, donor, acceptor, neither in store.iter_gene_scores(genes):
            flank = config.sequence_flank
            flanked = genome.fetch(info["chrom"], info["start"] - flank, info["end"] + flank, info["strand"])
            codes = flanked[flank:flanked.shape[0] - flank] if flank else flanked
            s = sites.get(info["gene_id"], NO_SITES)
            donors, acceptors = s.offsets(info)
            transcripts = _transcripts(info, spans.get(info["gene_id"]), s)
            yield GeneInput(info, codes, donor, acceptor, neither, donors, acceptors, transcripts,
                            flanked if flank else None, tracks.gene_values(info) if tracks else None)
    finally:
        if tracks is not None:
            tracks.close()
