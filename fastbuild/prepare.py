"""``fastbuild prepare``: FASTA + annotation -> fastbuild's reference tables.

Writes, into the output folder (each file atomically):

* ``genes.parquet``, ``transcripts.parquet``, ``exons.parquet``, ``introns.parquet``,
  ``splice_sites.parquet`` — see :class:`fastbuild.annotation.Annotation`;
* ``prepare_info.json`` — inputs, contig mapping, counts of everything read, written and
  skipped, and the splice-site sanity shares;
* with ``tsv=True`` also the reference implementation's ``gene_features.tsv`` and
  ``splice_sites.tsv``.

Contig names in the tables are the FASTA's names (after reconciliation).

Nothing finished-looking is left by a failed run: every input is read and checked before the
first table is written, an annotation without usable exons or without a gene inside the FASTA
is refused, and ``prepare_info.json`` (what ``--reference`` readers look for) is removed
before the tables are rewritten and written only after all of them. Parquet pages carry CRC
checksums, so a damaged table is reported by the readers instead of read wrongly.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild import atomic
from fastbuild.annotation import TABLES, Annotation, load_annotation
from fastbuild.contigs import read_alias_file, reconcile
from fastbuild.coords import to_offset
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.specs import PrepareConfig

log = logging.getLogger(__name__)

A, C, G, T = 0, 1, 2, 3
INFO_NAME = "prepare_info.json"
"""The file that marks a finished ``fastbuild prepare`` output (written last)."""
PARQUET_OPTIONS = {"write_page_checksum": True}
"""Written into every reference table: page CRCs let readers detect damaged files."""


def attach_genome(ann: Annotation, genome: Genome, aliases: dict | None = None):
    """Rename contigs to the FASTA's names and drop genes the FASTA cannot serve.

    Returns
    -------
    (Annotation, dict)
        The restricted annotation and counts/reasons of what was skipped.

    Raises
    ------
    FastbuildError
        When no gene (or no gene with an exon) lies inside the FASTA's sequence: the tables
        would be empty.
    """
    contig_map = reconcile(ann.genes["chrom"].unique().sort(), genome.contigs, aliases)
    ann = ann.rename_contigs(contig_map.mapping)
    genes = ann.genes
    on_unmatched = genes.filter(~pl.col("chrom").is_in(list(contig_map.mapping.values())))
    matched = genes.filter(pl.col("chrom").is_in(list(contig_map.mapping.values())))
    covered = np.fromiter(
        (genome.covered(c, s, e) for c, s, e in matched.select("chrom", "start", "end").iter_rows()),
        dtype=bool, count=matched.height,
    )
    outside = matched.filter(~pl.Series(covered))
    kept = matched.filter(pl.Series(covered))
    report = {
        "contig_mapping": {k: v for k, v in contig_map.mapping.items() if k != v},
        "unmatched_annotation_contigs": list(contig_map.unmatched_annotation),
        "unmatched_fasta_contigs": list(contig_map.unmatched_fasta),
        "genes_skipped_contig_not_in_fasta": on_unmatched.height,
        "genes_skipped_outside_fasta_sequence": outside.height,
        "examples_skipped": (on_unmatched["gene_id"].head(5).to_list()
                             + outside["gene_id"].head(5).to_list()),
    }
    ann = ann.filter_genes(kept)
    if ann.exons.height == 0:
        raise FastbuildError(
            f"no annotated gene with exons lies inside FASTA {genome.path} ({kept.height} genes inside, "
            f"{on_unmatched.height} on contigs absent from it, {outside.height} beyond its sequence); "
            "check that the FASTA and the annotation belong to the same assembly"
        )
    if on_unmatched.height:
        log.warning(
            "%d genes lie on contigs absent from the FASTA (%s); skipped",
            on_unmatched.height, ", ".join(contig_map.unmatched_annotation[:8]),
        )
    if outside.height:
        log.warning("%d genes extend beyond the FASTA's sequence; skipped", outside.height)
    return ann, report


def splice_site_sanity(ann: Annotation, genome: Genome) -> dict:
    """Shares of donors followed by GT/GC, acceptors preceded by AG, and intron classes.

    Reads each gene's sequence once (transcript orientation) and looks at the two intronic
    bases next to every site, so a one-base error anywhere in the convention shows as ~0%.
    """
    introns = ann.introns.join(
        ann.genes.select("gene_id", pl.col("start").alias("g_start"), pl.col("end").alias("g_end")),
        on="gene_id",
    ).sort("gene_id")
    n = introns.height
    donor_next = np.full((n, 2), 4, np.uint8)
    acc_prev = np.full((n, 2), 4, np.uint8)
    row = 0
    for part in introns.partition_by("gene_id", maintain_order=True):
        chrom, strand = part["chrom"][0], part["strand"][0]
        gs, ge = part["g_start"][0], part["g_end"][0]
        seq = genome.fetch(chrom, gs, ge, strand)
        d = to_offset(part["donor"].to_numpy(), gs, ge, strand)
        a = to_offset(part["acceptor"].to_numpy(), gs, ge, strand)
        k = part.height
        donor_next[row:row + k] = np.stack([seq[d + 1], seq[d + 2]], axis=1)
        acc_prev[row:row + k] = np.stack([seq[a - 2], seq[a - 1]], axis=1)
        row += k

    def share(mask):
        return float(mask.mean()) if n else float("nan")

    gt = (donor_next[:, 0] == G) & (donor_next[:, 1] == T)
    gc = (donor_next[:, 0] == G) & (donor_next[:, 1] == C)
    at = (donor_next[:, 0] == A) & (donor_next[:, 1] == T)
    ag = (acc_prev[:, 0] == A) & (acc_prev[:, 1] == G)
    ac = (acc_prev[:, 0] == A) & (acc_prev[:, 1] == C)
    return {
        "introns_checked": n,
        "donor_gt_or_gc": share(gt | gc),
        "acceptor_ag": share(ag),
        "intron_gt_ag": share(gt & ag),
        "intron_gc_ag": share(gc & ag),
        "intron_at_ac": share(at & ac),
    }


def write_reference_tsv(ann: Annotation, out: Path) -> None:
    """The reference implementation's ``gene_features.tsv`` and ``splice_sites.tsv``."""
    gf = ann.genes.select(
        "start", "end", pl.lit(".").alias("score"), "strand", "gene_id", "gene_name", "gene_type",
        "gene_length", "chrom",
    )
    ss = ann.splice_sites.select(
        "chrom", (pl.col("position") - 2).alias("start"), (pl.col("position") + 2).alias("end"),
        "position", "strand", "site_type", "gene_id", "transcript_id",
    )
    for name, frame in (("gene_features.tsv", gf), ("splice_sites.tsv", ss)):
        with atomic.atomic_path(out / name) as tmp:
            frame.write_csv(tmp, separator="\t")


def prepare(config: PrepareConfig) -> dict:
    """Run ``fastbuild prepare``; returns the summary written to ``prepare_info.json``."""
    t0 = time.perf_counter()
    config.require_inputs()
    aliases = read_alias_file(config.chrom_alias) if config.chrom_alias else None
    ann = load_annotation(config.annotation, config.annotation_format, config.skip_malformed)
    out = atomic.ensure_dir(config.out)
    with Genome(config.fasta, cache_dir=config.cache_dir or None) as genome:
        n_genes_in_file = ann.genes.height
        ann, skipped = attach_genome(ann, genome, aliases)
        sanity = splice_site_sanity(ann, genome)
        fasta_path = str(genome.path.resolve())
    _unmark_finished(out)
    for name in TABLES:
        atomic.write_parquet(getattr(ann, name), out / f"{name}.parquet", **PARQUET_OPTIONS)
    if config.tsv:
        write_reference_tsv(ann, out)
    summary = {
        "config": asdict(config),
        "fasta": fasta_path,
        "genes_in_annotation": n_genes_in_file,
        "genes_written": ann.genes.height,
        "transcripts_written": ann.transcripts.height,
        "introns_written": ann.introns.height,
        "splice_site_rows_written": ann.splice_sites.height,
        **skipped,
        "annotation": ann.summary,
        "sanity": sanity,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    accounted = (summary["genes_written"] + skipped["genes_skipped_contig_not_in_fasta"]
                 + skipped["genes_skipped_outside_fasta_sequence"])
    if accounted != n_genes_in_file:  # pragma: no cover - an internal invariant
        raise RuntimeError(f"gene accounting mismatch: {accounted} != {n_genes_in_file}")
    atomic.write_text(out / INFO_NAME, json.dumps(summary, indent=2, default=str))
    return summary


def _unmark_finished(out: Path) -> None:
    """Remove an older run's ``prepare_info.json`` so half-rewritten tables never look finished."""
    try:
        (out / INFO_NAME).unlink(missing_ok=True)
    except OSError as exc:
        raise atomic.io_error(out / INFO_NAME, exc) from None


def format_summary(s: dict) -> str:
    """Human-readable lines for the end of ``fastbuild prepare``."""
    a, q = s["annotation"], s["sanity"]
    pct = lambda x: "n/a" if x != x else f"{100 * x:.1f}%"  # noqa: E731 (NaN-aware)
    lines = [
        f"genes: {s['genes_in_annotation']} in annotation, {s['genes_written']} written, "
        f"{s['genes_skipped_contig_not_in_fasta']} skipped (contig not in FASTA), "
        f"{s['genes_skipped_outside_fasta_sequence']} skipped (beyond FASTA sequence)",
        f"transcripts: {s['transcripts_written']} written ({a['single_exon_transcripts']} single-exon in file); "
        f"introns: {s['introns_written']}; splice-site rows: {s['splice_site_rows_written']}",
        f"fixed up: {a['genes_without_transcripts']} genes without transcripts, "
        f"{a['genes_overlapping_another']} overlapping genes, {a['zero_length_introns']} zero-length introns, "
        f"{a['overlapping_exons']} overlapping exon pairs, {a['malformed_lines']} malformed lines skipped",
        f"sanity: donors followed by GT/GC {pct(q['donor_gt_or_gc'])}, acceptors preceded by AG "
        f"{pct(q['acceptor_ag'])}; introns GT..AG {pct(q['intron_gt_ag'])}, GC..AG {pct(q['intron_gc_ag'])}, "
        f"AT..AC {pct(q['intron_at_ac'])} (of {q['introns_checked']})",
        f"done in {s['seconds']:.1f} s",
    ]
    return "\n".join(lines)
