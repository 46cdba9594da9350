"""Gene annotation: streaming GTF / GFF3 / SpliceAI-table parsing into reference tables.

Coordinates are 1-based and inclusive everywhere. Splice sites follow SpliceAI's convention:
a **donor** is the last exonic base before an intron and an **acceptor** the first exonic base
after one, both in transcript orientation. On the plus strand that is ``exon.end`` (donor) and
``next_exon.start`` (acceptor); on the minus strand the exon order flips, so the donor is the
start of the exon with the higher coordinates and the acceptor the end of the lower one.

The three input formats are read line by line in blocks (bounded memory) with polars string
kernels doing the splitting. Malformed lines are reported with their line number: by default
the first one is an error; with ``skip_malformed=True`` they are counted, reported and skipped.
"""

from __future__ import annotations

import gzip
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.files import open_text, strip_gzip_suffix

log = logging.getLogger(__name__)

FORMATS = ("gtf", "gff3", "spliceai")
BLOCK_LINES = 250_000
MAX_REPORTED = 10

GENE_SCHEMA = {
    "gene_id": pl.Utf8, "gene_name": pl.Utf8, "gene_type": pl.Utf8, "chrom": pl.Utf8,
    "start": pl.Int64, "end": pl.Int64, "strand": pl.Utf8,
}
TX_SCHEMA = {"transcript_id": pl.Utf8, "gene_id": pl.Utf8, "transcript_type": pl.Utf8}
EXON_SCHEMA = {
    "chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64, "strand": pl.Utf8,
    "gene_id": pl.Utf8, "transcript_id": pl.Utf8,
}


TABLES = ("genes", "transcripts", "exons", "introns", "splice_sites")
"""The reference tables of an :class:`Annotation`, in the order ``fastbuild prepare`` writes them."""


@dataclass
class Annotation:
    """Reference tables derived from one annotation file.

    Attributes
    ----------
    genes : polars.DataFrame
        gene_id, gene_name, gene_type, chrom, start, end, strand, gene_length, n_transcripts,
        n_exons, n_splice_sites, donor_sites, acceptor_sites, splice_density_per_kb,
        num_overlaps.
    transcripts : polars.DataFrame
        transcript_id, gene_id, transcript_type, chrom, start, end, strand, n_exons,
        transcript_length.
    exons : polars.DataFrame
        chrom, start, end, strand, gene_id, transcript_id, exon_number (transcript order).
    introns : polars.DataFrame
        chrom, strand, gene_id, transcript_id, start, end (intron bases), donor, acceptor.
    splice_sites : polars.DataFrame
        chrom, position, strand, site_type ('donor'/'acceptor'), gene_id, transcript_id;
        one row per transcript x site.
    summary : dict
        Counts of what was read, derived, fixed up and skipped.
    """

    genes: pl.DataFrame
    transcripts: pl.DataFrame
    exons: pl.DataFrame
    introns: pl.DataFrame
    splice_sites: pl.DataFrame
    summary: dict = field(default_factory=dict)

    def filter_genes(self, keep: pl.DataFrame | pl.Series) -> Annotation:
        """A copy restricted to the gene ids in ``keep`` (a Series or a frame with gene_id)."""
        ids = keep if isinstance(keep, pl.Series) else keep["gene_id"]
        sel = pl.col("gene_id").is_in(ids.implode())
        return self._map(lambda t: t.filter(sel))

    def rename_contigs(self, mapping: dict) -> Annotation:
        """A copy with ``chrom`` values renamed through ``mapping`` (others unchanged)."""
        expr = pl.col("chrom").replace(mapping)
        return self._map(lambda t: t.with_columns(expr))

    def _map(self, fn) -> Annotation:
        """A copy with ``fn`` applied to every table (summary copied)."""
        return Annotation(*(fn(getattr(self, name)) for name in TABLES), dict(self.summary))


# ---------------------------------------------------------------------------- reading lines
def _line_blocks(path: Path):
    """Yield DataFrames (lineno, line) of non-empty, non-comment lines, in blocks."""
    try:
        fh = open_text(path)
        with fh:
            first = 1
            while True:
                lines = list(itertools.islice(fh, BLOCK_LINES))
                if not lines:
                    break
                df = pl.DataFrame({"line": lines}).with_row_index("lineno", offset=first)
                first += len(lines)
                df = df.with_columns(pl.col("line").str.strip_chars_end("\r\n"))
                yield df.filter(
                    (pl.col("line").str.len_bytes() > 0) & ~pl.col("line").str.starts_with("#")
                )
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise FastbuildError(f"cannot read annotation {path}: {exc}") from None


def detect_format(path) -> str:
    """Guess the annotation format from the file name, else from its first data line."""
    path = Path(path)
    name = strip_gzip_suffix(path.name.lower())
    if name.endswith(".gtf"):
        return "gtf"
    if name.endswith((".gff", ".gff3")):
        return "gff3"
    with open_text(path) as fh:
        for line in itertools.islice(fh, 1000):
            if line.startswith("#NAME") or line.upper().startswith("#NAME\tCHROM"):
                return "spliceai"
            if line.startswith("#") or not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) == 9:
                return "gff3" if ("=" in cols[8] and '"' not in cols[8]) else "gtf"
            if len(cols) == 7:
                return "spliceai"
            break
    raise FastbuildError(
        f"cannot tell the format of annotation {path}; name it .gtf/.gff3 or pass --annotation-format"
    )


class _Malformed:
    """Collects malformed lines; raises on the first unless skipping is allowed."""

    def __init__(self, path: Path, skip: bool):
        self.path, self.skip = path, skip
        self.count = 0
        self.examples: list[str] = []

    def check(self, df: pl.DataFrame, bad: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
        flagged = df.filter(bad)
        if flagged.height:
            rows = flagged.select("lineno", reason.alias("reason")).head(MAX_REPORTED).rows()
            if not self.skip:
                lineno, why = rows[0]
                raise FastbuildError(
                    f"{self.path}:{lineno}: {why}; fix the line or pass --skip-malformed to skip bad lines"
                )
            self.count += flagged.height
            for lineno, why in rows:
                if len(self.examples) < MAX_REPORTED:
                    msg = f"{self.path}:{lineno}: {why} (skipped)"
                    self.examples.append(msg)
                    log.warning(msg)
        return df.filter(~bad)


def _split_fields(df: pl.DataFrame, n: int, malformed: _Malformed, what: str) -> pl.DataFrame:
    df = df.with_columns(pl.col("line").str.count_matches("\t").alias("_tabs"))
    df = malformed.check(
        df, pl.col("_tabs") != n - 1,
        pl.format(f"expected {n} tab-separated {what} fields, found {{}}", pl.col("_tabs") + 1),
    )
    parts = pl.col("line").str.split_exact("\t", n - 1)
    return df.select("lineno", parts.alias("f")).unnest("f")


def _check_coords(df: pl.DataFrame, malformed: _Malformed, check_strand: bool = True) -> pl.DataFrame:
    df = df.with_columns(
        pl.col("start").str.strip_chars().cast(pl.Int64, strict=False).alias("_start"),
        pl.col("end").str.strip_chars().cast(pl.Int64, strict=False).alias("_end"),
    )
    df = malformed.check(
        df, pl.col("_start").is_null() | pl.col("_end").is_null(),
        pl.format("start/end are not integers ({}, {})", pl.col("start"), pl.col("end")),
    )
    df = malformed.check(df, pl.col("_start") < 1, pl.format("start {} < 1", pl.col("_start")))
    df = malformed.check(
        df, pl.col("_end") < pl.col("_start"),
        pl.format("end {} < start {}", pl.col("_end"), pl.col("_start")),
    )
    if check_strand:
        df = malformed.check(
            df, ~pl.col("strand").is_in(["+", "-"]),
            pl.format("unknown strand '{}' (expected + or -)", pl.col("strand")),
        )
    return df.drop("start", "end").rename({"_start": "start", "_end": "end"})


# ---------------------------------------------------------------------------- GTF
def _gtf_attr(name: str) -> pl.Expr:
    return pl.col("attr").str.extract(rf'(?:^|;)\s*{name}\s+"([^"]*)"', 1)


def _read_gtf(path: Path, malformed: _Malformed):
    genes, txs, exons = [], [], []
    cols = ["chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr"]
    for block in _line_blocks(path):
        df = _split_fields(block, 9, malformed, "GTF")
        df = df.rename({f"field_{i}": c for i, c in enumerate(cols)})
        df = df.filter(pl.col("feature").is_in(["gene", "transcript", "exon"]))
        if df.height == 0:
            continue
        df = _check_coords(df, malformed)
        df = df.with_columns(
            _gtf_attr("gene_id").alias("gene_id"),
            _gtf_attr("transcript_id").alias("transcript_id"),
        )
        df = malformed.check(
            df, pl.col("gene_id").is_null() | (pl.col("gene_id") == ""),
            pl.lit("GTF line without a gene_id attribute"),
        )
        g = df.filter(pl.col("feature") == "gene")
        if g.height:
            genes.append(g.select(
                "gene_id",
                pl.coalesce(_gtf_attr("gene_name"), _gtf_attr("gene")).alias("gene_name"),
                pl.coalesce(_gtf_attr("gene_type"), _gtf_attr("gene_biotype")).alias("gene_type"),
                "chrom", "start", "end", "strand",
            ))
        rest = df.filter(pl.col("feature") != "gene")
        rest = malformed.check(
            rest, pl.col("transcript_id").is_null() | (pl.col("transcript_id") == ""),
            pl.format("{} line without a transcript_id attribute", pl.col("feature")),
        )
        t = rest.filter(pl.col("feature") == "transcript")
        if t.height:
            txs.append(t.select(
                "transcript_id", "gene_id",
                pl.coalesce(_gtf_attr("transcript_type"), _gtf_attr("transcript_biotype"),
                            _gtf_attr("gbkey")).alias("transcript_type"),
                # gene name/type carried on transcript lines, for GTFs without gene lines
                pl.coalesce(_gtf_attr("gene_name"), _gtf_attr("gene")).alias("gene_name"),
                pl.coalesce(_gtf_attr("gene_type"), _gtf_attr("gene_biotype")).alias("gene_type"),
            ))
        e = rest.filter(pl.col("feature") == "exon")
        if e.height:
            exons.append(e.select(list(EXON_SCHEMA)))
    tx_cols = {**TX_SCHEMA, "gene_name": pl.Utf8, "gene_type": pl.Utf8}
    return _concat(genes, GENE_SCHEMA), _concat(txs, tx_cols), _concat(exons, EXON_SCHEMA)


# ---------------------------------------------------------------------------- GFF3
def _gff_attr(name: str) -> pl.Expr:
    return pl.col("attr").str.extract(rf"(?:^|;)\s*{name}=([^;]*)", 1)


def _strip_prefix(expr: pl.Expr, prefixes) -> pl.Expr:
    for p in prefixes:
        expr = pl.when(expr.str.starts_with(p)).then(expr.str.slice(len(p))).otherwise(expr)
    return expr


def _gff3_records(path: Path, malformed: _Malformed) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature records with an ID (one per ID) and exon rows (one per parent) of a GFF3 file."""
    records, exons = [], []
    cols = ["chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr"]
    for block in _line_blocks(path):
        df = _split_fields(block, 9, malformed, "GFF3")
        df = df.rename({f"field_{i}": c for i, c in enumerate(cols)})
        df = df.with_columns(_gff_attr("ID").alias("ID"), _gff_attr("Parent").alias("Parent"))
        df = df.filter(pl.col("ID").is_not_null() | (pl.col("feature") == "exon"))
        if df.height == 0:
            continue
        is_exon = pl.col("feature") == "exon"
        # only exons and features that can be genes/transcripts need sane coordinates/strand
        df = _check_coords(df, malformed)
        e = df.filter(is_exon)
        e = malformed.check(e, pl.col("Parent").is_null(), pl.lit("exon without a Parent attribute"))
        if e.height:
            exons.append(e.select(
                "chrom", "start", "end", "strand",
                pl.col("Parent").str.split(",").alias("parent"),
            ).explode("parent"))
        r = df.filter(~is_exon & pl.col("ID").is_not_null())
        if r.height:
            records.append(r.select(
                "ID", "Parent", "feature", "chrom", "start", "end", "strand",
                pl.coalesce(_gff_attr("gene_id"), _gff_attr("transcript_id")).alias("given_id"),
                pl.coalesce(_gff_attr("gene_name"), _gff_attr("Name"), _gff_attr("gene")).alias("name"),
                pl.coalesce(_gff_attr("gene_type"), _gff_attr("gene_biotype"), _gff_attr("biotype"),
                            _gff_attr("transcript_biotype")).alias("biotype"),
            ))
    rec_schema = {"ID": pl.Utf8, "Parent": pl.Utf8, "feature": pl.Utf8, "chrom": pl.Utf8,
                  "start": pl.Int64, "end": pl.Int64, "strand": pl.Utf8, "given_id": pl.Utf8,
                  "name": pl.Utf8, "biotype": pl.Utf8}
    rec = _concat(records, rec_schema).unique("ID", keep="first", maintain_order=True)
    ex = _concat(exons, {"chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64,
                         "strand": pl.Utf8, "parent": pl.Utf8})
    return rec, ex


def _read_gff3(path: Path, malformed: _Malformed):
    rec, ex = _gff3_records(path, malformed)
    # transcripts = parents of exons; genes = parents of transcripts (or the transcript itself)
    tx = rec.join(ex.select(pl.col("parent").unique().alias("ID")), on="ID", how="semi")
    tx = tx.with_columns(
        pl.coalesce(pl.col("Parent").str.split(",").list.first(), pl.col("ID")).alias("gene_ref")
    )
    # genes: parents of transcripts, plus gene-typed features without transcripts
    is_parent = pl.col("ID").is_in(tx["gene_ref"].unique().implode())
    is_gene_type = pl.col("feature").str.contains(r"(?i)gene$") & ~pl.col("ID").is_in(tx["ID"].implode())
    gene_rec = rec.filter(is_parent | is_gene_type)
    gid = pl.coalesce(pl.col("given_id"), _strip_prefix(pl.col("ID"), ("gene:", "gene-")))
    gene_ids = gene_rec.select(pl.col("ID").alias("gene_ref"), gid.alias("gene_id"))
    genes = gene_rec.select(
        gid.alias("gene_id"), pl.col("name").alias("gene_name"), pl.col("biotype").alias("gene_type"),
        "chrom", "start", "end", "strand",
    )
    tid = pl.coalesce(pl.col("given_id"), _strip_prefix(pl.col("ID"), ("transcript:", "rna-")))
    txs = tx.join(gene_ids, on="gene_ref", how="left").select(
        tid.alias("transcript_id"),
        pl.coalesce(pl.col("gene_id"), _strip_prefix(pl.col("gene_ref"), ("gene:", "gene-"))).alias("gene_id"),
        pl.col("biotype").alias("transcript_type"),
        pl.lit(None, pl.Utf8).alias("gene_name"), pl.lit(None, pl.Utf8).alias("gene_type"),
        pl.col("ID").alias("_tx_ref"),
    )
    orphan = ex.join(rec.select(pl.col("ID").alias("parent")), on="parent", how="anti")
    if orphan.height:
        log.warning("%d exon rows name a Parent that is not in %s; skipped", orphan.height, path)
    exons_out = ex.join(
        txs.select(pl.col("_tx_ref").alias("parent"), "transcript_id", "gene_id"), on="parent", how="inner"
    ).select(list(EXON_SCHEMA))
    return genes, txs.drop("_tx_ref"), exons_out


# ---------------------------------------------------------------------------- SpliceAI table
def _read_spliceai(path: Path, malformed: _Malformed):
    exons = []
    names = ["name", "chrom", "strand", "tx_start", "tx_end", "exon_starts", "exon_ends"]
    for block in _line_blocks(path):
        df = _split_fields(block, 7, malformed, "annotation-table")
        df = df.rename({f"field_{i}": c for i, c in enumerate(names)})
        # the table's starts are 0-based: +1 gives the 1-based first base
        df = df.with_columns(
            (pl.col("tx_start").cast(pl.Int64, strict=False) + 1).cast(pl.Utf8).alias("start"),
            pl.col("tx_end").alias("end"),
        )
        df = _check_coords(df, malformed)
        df = df.with_columns(
            pl.col("exon_starts").str.strip_chars(", ").str.split(",").alias("es"),
            pl.col("exon_ends").str.strip_chars(", ").str.split(",").alias("ee"),
        )
        df = malformed.check(
            df, pl.col("es").list.len() != pl.col("ee").list.len(),
            pl.lit("EXON_START and EXON_END lists differ in length"),
        )
        ex = df.select("lineno", "chrom", "strand", pl.col("name").alias("gene_id"), "es", "ee")
        ex = ex.explode(["es", "ee"]).with_columns(
            (pl.col("es").cast(pl.Int64, strict=False) + 1).alias("start"),
            pl.col("ee").cast(pl.Int64, strict=False).alias("end"),
        )
        ex = malformed.check(
            ex, pl.col("start").is_null() | pl.col("end").is_null() | (pl.col("end") < pl.col("start")),
            pl.format("bad exon {}-{}", pl.col("es"), pl.col("ee")),
        )
        exons.append(ex.select(
            "chrom", "start", "end", "strand", "gene_id", pl.col("gene_id").alias("transcript_id")
        ))
    ex = _concat(exons, EXON_SCHEMA)
    genes = ex.group_by("gene_id", maintain_order=True).agg(
        pl.col("gene_id").first().alias("gene_name"), pl.lit(None, pl.Utf8).alias("gene_type"),
        pl.col("chrom").first(), pl.col("start").min(), pl.col("end").max(), pl.col("strand").first(),
    ).select(list(GENE_SCHEMA))
    txs = ex.select(
        pl.col("transcript_id").unique(maintain_order=True)
    ).with_columns(
        pl.col("transcript_id").alias("gene_id"), pl.lit("canonical").alias("transcript_type"),
        pl.lit(None, pl.Utf8).alias("gene_name"), pl.lit(None, pl.Utf8).alias("gene_type"),
    )
    return genes, txs, ex


def _concat(frames, schema) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat([f.cast(schema) if set(f.columns) == set(schema) else f for f in frames],
                     how="vertical_relaxed").select(list(schema))


# ---------------------------------------------------------------------------- assembly
def load_annotation(path, fmt: str = "auto", skip_malformed: bool = False) -> Annotation:
    """Read an annotation file and derive genes, transcripts, exons, introns and sites.

    Parameters
    ----------
    path : str or Path
        GTF, GFF3 or SpliceAI annotation table (``#NAME CHROM STRAND TX_START TX_END
        EXON_START EXON_END``, 0-based starts), optionally gzip-compressed.
    fmt : {'auto', 'gtf', 'gff3', 'spliceai'}
    skip_malformed : bool
        Count, report and skip malformed lines instead of stopping at the first.

    Raises
    ------
    FastbuildError
        Missing file, unknown format, or (unless skipping) a malformed line, named with its
        line number.
    """
    path = Path(path)
    if not path.exists():
        raise FastbuildError(f"annotation file not found: {path}")
    if not path.is_file():
        raise FastbuildError(f"annotation path is not a file: {path}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise FastbuildError(f"unknown annotation format {fmt!r}; use one of {', '.join(FORMATS)}")
    malformed = _Malformed(path, skip_malformed)
    reader = {"gtf": _read_gtf, "gff3": _read_gff3, "spliceai": _read_spliceai}[fmt]
    gene_rec, tx_rec, exons = reader(path, malformed)
    ann = assemble(gene_rec, tx_rec, exons)
    ann.summary.update(format=fmt, malformed_lines=malformed.count,
                       malformed_examples=malformed.examples)
    return ann


def assemble(gene_rec: pl.DataFrame, tx_rec: pl.DataFrame, exons: pl.DataFrame) -> Annotation:
    """Derive the reference tables from gene records, transcript records and exon rows."""
    summary: dict = {}
    gene_rec = gene_rec.unique("gene_id", keep="first", maintain_order=True)
    exons = _number_exons(exons.unique(["transcript_id", "start", "end"], keep="first", maintain_order=True), summary)
    introns, sites = _introns_and_sites(exons, summary)
    transcripts = _transcripts(exons, tx_rec, summary)
    genes = _genes(gene_rec, tx_rec, transcripts, exons, sites, summary)
    summary["transcripts"] = transcripts.height
    summary["introns"] = introns.height
    summary["splice_site_rows"] = sites.height
    return Annotation(genes, transcripts, exons.select(*EXON_SCHEMA, "exon_number"), introns, sites, summary)


def _number_exons(exons: pl.DataFrame, summary: dict) -> pl.DataFrame:
    """Drop transcripts on several contigs or strands; number exons in transcript orientation."""
    # a transcript must sit on one contig and one strand
    bad_tx = exons.group_by("transcript_id").agg(
        (pl.col("chrom").n_unique() > 1) | (pl.col("strand").n_unique() > 1)
    ).filter(pl.col("chrom"))["transcript_id"]
    summary["transcripts_mixed_contig_or_strand"] = bad_tx.len()
    if bad_tx.len():
        log.warning("%d transcripts span several contigs or strands; skipped", bad_tx.len())
        exons = exons.filter(~pl.col("transcript_id").is_in(bad_tx.implode()))

    # exon order in transcript orientation
    exons = exons.sort(["transcript_id", "start"])
    exons = exons.with_columns(
        pl.when(pl.col("strand") == "+")
        .then(pl.int_range(1, pl.len() + 1).over("transcript_id"))
        .otherwise(pl.int_range(pl.len(), 0, -1).over("transcript_id"))
        .cast(pl.Int32).alias("exon_number")
    )
    return exons


def _introns_and_sites(exons: pl.DataFrame, summary: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Introns between consecutive exons, and their donor and acceptor sites (exon-side bases)."""
    # introns between consecutive exons (genomic order)
    nxt = exons.with_columns(
        pl.col("start").shift(-1).over("transcript_id").alias("next_start")
    ).filter(pl.col("next_start").is_not_null())
    gap = pl.col("next_start") - pl.col("end") - 1
    summary["zero_length_introns"] = nxt.filter(gap == 0).height
    summary["overlapping_exons"] = nxt.filter(gap < 0).height
    introns = nxt.filter(gap > 0).select(
        "chrom", "strand", "gene_id", "transcript_id",
        (pl.col("end") + 1).alias("start"), (pl.col("next_start") - 1).alias("end"),
        pl.when(pl.col("strand") == "+").then(pl.col("end")).otherwise(pl.col("next_start")).alias("donor"),
        pl.when(pl.col("strand") == "+").then(pl.col("next_start")).otherwise(pl.col("end")).alias("acceptor"),
    )
    sites = pl.concat([
        introns.select("chrom", pl.col("donor").alias("position"), "strand",
                       pl.lit("donor").alias("site_type"), "gene_id", "transcript_id"),
        introns.select("chrom", pl.col("acceptor").alias("position"), "strand",
                       pl.lit("acceptor").alias("site_type"), "gene_id", "transcript_id"),
    ]).sort(["chrom", "position", "site_type", "transcript_id"])
    return introns, sites


def _transcripts(exons: pl.DataFrame, tx_rec: pl.DataFrame, summary: dict) -> pl.DataFrame:
    """One row per transcript, spans and lengths from its exons."""
    # transcripts
    tx_agg = exons.group_by("transcript_id", maintain_order=True).agg(
        pl.col("gene_id").first(), pl.col("chrom").first(), pl.col("start").min(),
        pl.col("end").max(), pl.col("strand").first(), pl.len().cast(pl.Int32).alias("n_exons"),
        (pl.col("end") - pl.col("start") + 1).sum().alias("transcript_length"),
    )
    tx_info = tx_rec.unique("transcript_id", keep="first").select("transcript_id", "transcript_type")
    transcripts = tx_agg.join(tx_info, on="transcript_id", how="left").select(
        "transcript_id", "gene_id", "transcript_type", "chrom", "start", "end", "strand",
        "n_exons", "transcript_length",
    )
    summary["single_exon_transcripts"] = transcripts.filter(pl.col("n_exons") == 1).height
    return transcripts


def _genes(gene_rec, tx_rec, transcripts, exons, sites, summary: dict) -> pl.DataFrame:
    """Gene records, completed by genes known only from transcripts, with their counts."""
    # genes: gene records, completed by genes known only from transcripts/exons
    from_tx = transcripts.group_by("gene_id", maintain_order=True).agg(
        pl.col("chrom").first(), pl.col("start").min(), pl.col("end").max(), pl.col("strand").first(),
    )
    names = tx_rec.filter(pl.col("gene_name").is_not_null() | pl.col("gene_type").is_not_null()) \
        .group_by("gene_id").agg(pl.col("gene_name").drop_nulls().first(),
                                 pl.col("gene_type").drop_nulls().first())
    derived = from_tx.join(gene_rec.select("gene_id"), on="gene_id", how="anti") \
        .join(names, on="gene_id", how="left")
    summary["genes_without_gene_line"] = derived.height
    genes = pl.concat([gene_rec, derived.select(list(GENE_SCHEMA))], how="vertical_relaxed")
    # a gene spans at least its transcripts
    genes = genes.join(from_tx.select("gene_id", pl.col("start").alias("_ts"), pl.col("end").alias("_te")),
                       on="gene_id", how="left").with_columns(
        pl.min_horizontal("start", "_ts").alias("start"), pl.max_horizontal("end", "_te").alias("end"),
    ).drop("_ts", "_te")

    counts = _gene_counts(transcripts, exons, sites)
    genes = genes.join(counts, on="gene_id", how="left").with_columns(
        pl.col(c).fill_null(0) for c in counts.columns if c != "gene_id"
    ).with_columns(
        pl.col("gene_name").fill_null(pl.col("gene_id")),
        pl.col("gene_type").fill_null("unknown"),
        (pl.col("end") - pl.col("start") + 1).alias("gene_length"),
    ).with_columns(
        (pl.col("n_splice_sites") / (pl.col("gene_length") / 1000.0)).alias("splice_density_per_kb"),
    )
    genes = genes.with_columns(num_overlaps=_num_overlaps(genes)).select(
        "gene_id", "gene_name", "gene_type", "chrom", "start", "end", "strand", "gene_length",
        "n_transcripts", "n_exons", "n_splice_sites", "donor_sites", "acceptor_sites",
        "splice_density_per_kb", "num_overlaps",
    ).sort(["chrom", "start", "end", "gene_id"])
    summary["genes"] = genes.height
    summary["genes_without_transcripts"] = genes.filter(pl.col("n_transcripts") == 0).height
    summary["genes_overlapping_another"] = genes.filter(pl.col("num_overlaps") > 0).height
    return genes


def _gene_counts(transcripts: pl.DataFrame, exons: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    n_tx = transcripts.group_by("gene_id").agg(pl.len().cast(pl.Int32).alias("n_transcripts"))
    n_ex = exons.group_by("gene_id").agg(
        pl.struct("start", "end").n_unique().cast(pl.Int32).alias("n_exons"))
    n_sites = sites.group_by("gene_id").agg(
        pl.col("position").n_unique().cast(pl.Int32).alias("n_splice_sites"),
        pl.col("position").filter(pl.col("site_type") == "donor").n_unique().cast(pl.Int32).alias("donor_sites"),
        pl.col("position").filter(pl.col("site_type") == "acceptor").n_unique().cast(pl.Int32).alias("acceptor_sites"),
    )
    return n_tx.join(n_ex, on="gene_id", how="full", coalesce=True) \
        .join(n_sites, on="gene_id", how="full", coalesce=True)


def _num_overlaps(genes: pl.DataFrame) -> pl.Series:
    """Number of other genes on the same contig (either strand) overlapping each gene."""
    out = np.zeros(genes.height, dtype=np.int32)
    idx = genes.with_row_index("_i").partition_by("chrom", as_dict=False)
    for part in idx:
        starts = np.sort(part["start"].to_numpy())
        ends = np.sort(part["end"].to_numpy())
        s, e = part["start"].to_numpy(), part["end"].to_numpy()
        # genes with start <= e_i, minus genes that end before s_i, minus the gene itself
        n = np.searchsorted(starts, e, side="right") - np.searchsorted(ends, s, side="left") - 1
        out[part["_i"].to_numpy()] = n
    return pl.Series("num_overlaps", out)
