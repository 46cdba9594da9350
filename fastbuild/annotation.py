"""Gene annotation: streaming GTF / GFF3 / SpliceAI-table parsing into reference tables.

Coordinates are 1-based and inclusive everywhere. Splice sites follow SpliceAI's convention:
a **donor** is the last exonic base before an intron and an **acceptor** the first exonic base
after one, both in transcript orientation. On the plus strand that is ``exon.end`` (donor) and
``next_exon.start`` (acceptor); on the minus strand the exon order flips, so the donor is the
start of the exon with the higher coordinates and the acceptor the end of the lower one.

The three input formats are read line by line in blocks (bounded memory) with polars string
kernels doing the splitting. Malformed lines are reported with their line number: by default
the first one is an error; with ``skip_malformed=True`` they are counted, reported and skipped.

Bad input is never turned into a silent wrong answer:

* a file that cannot be read (missing, a directory, truncated or corrupt gzip) is a one-line
  :class:`~fastbuild.errors.FastbuildError` naming it;
* a file without any usable exon record (empty, only comments, only gene lines, or every
  line malformed and skipped) is refused;
* transcripts are keyed by **(gene_id, transcript_id)**: a transcript id that two genes use
  (NCBI GTFs do this, e.g. ``unknown_transcript_1``) gives one transcript per gene, never one
  invented transcript spanning both genes; such ids are counted in the summary
  (``transcript_ids_shared_by_genes``) and reported with their line numbers in a warning;
* a gene id found on several contigs or strands (e.g. the same id on chrX and chrY) is
  skipped with a warning instead of getting a span that joins both places;
* in a SpliceAI table (one row per gene) a name listed twice is a malformed line.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file, open_text, reading, strip_gzip_suffix

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


_EXON_IN = {**EXON_SCHEMA, "lineno": pl.Int64}  # exon rows as read, with their line numbers

TABLES = ("genes", "transcripts", "exons", "introns", "splice_sites")
"""The reference tables of an :class:`Annotation`, in the order ``fastbuild prepare`` writes them."""

_S, _I64, _I32 = pl.Utf8, pl.Int64, pl.Int32
TABLE_SCHEMAS = {
    "genes": {
        "gene_id": _S, "gene_name": _S, "gene_type": _S, "chrom": _S, "start": _I64, "end": _I64,
        "strand": _S, "gene_length": _I64, "n_transcripts": _I32, "n_exons": _I32, "n_splice_sites": _I32,
        "donor_sites": _I32, "acceptor_sites": _I32, "splice_density_per_kb": pl.Float64, "num_overlaps": _I32,
    },
    "transcripts": {
        "transcript_id": _S, "gene_id": _S, "transcript_type": _S, "chrom": _S, "start": _I64, "end": _I64,
        "strand": _S, "n_exons": _I32, "transcript_length": _I64,
    },
    "exons": {**EXON_SCHEMA, "exon_number": _I32},
    "introns": {
        "chrom": _S, "strand": _S, "gene_id": _S, "transcript_id": _S, "start": _I64, "end": _I64,
        "donor": _I64, "acceptor": _I64,
    },
    "splice_sites": {
        "chrom": _S, "position": _I64, "strand": _S, "site_type": _S, "gene_id": _S, "transcript_id": _S,
    },
}
"""Column names and types of each reference table (what ``--reference`` readers check)."""
NULLABLE_COLUMNS = frozenset({"transcript_type"})
"""Columns of :data:`TABLE_SCHEMAS` that may hold nulls; every other column must be complete."""


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
def _line_blocks(path: Path, malformed: _Malformed):
    """Yield DataFrames (lineno, line) of non-empty, non-comment lines, in blocks.

    Counts the data lines into ``malformed.data_lines``; read errors (truncated or corrupt
    gzip, I/O errors) become one-line FastbuildErrors naming the file.
    """
    with reading(path, "annotation"), open_text(path) as fh:
        first = 1
        while True:
            lines = list(itertools.islice(fh, BLOCK_LINES))
            if not lines:
                break
            df = pl.DataFrame({"line": lines}).with_row_index("lineno", offset=first)
            first += len(lines)
            df = df.with_columns(pl.col("line").str.strip_chars_end("\r\n"), pl.col("lineno").cast(pl.Int64))
            df = df.filter((pl.col("line").str.len_bytes() > 0) & ~pl.col("line").str.starts_with("#"))
            malformed.data_lines += df.height
            malformed.not_utf8 += df.filter(pl.col("line").str.contains("\ufffd", literal=True)).height
            yield df


def detect_format(path) -> str:
    """Guess the annotation format from the file name, else from its first data line."""
    path = Path(path)
    name = strip_gzip_suffix(path.name.lower())
    if name.endswith(".gtf"):
        return "gtf"
    if name.endswith((".gff", ".gff3")):
        return "gff3"
    seen_data, n_lines = False, 0
    with reading(path, "annotation"), open_text(path) as fh:
        for line in itertools.islice(fh, 1000):
            n_lines += 1
            if line.startswith("#NAME") or line.upper().startswith("#NAME\tCHROM"):
                return "spliceai"
            if line.startswith("#") or not line.strip():
                continue
            seen_data = True
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) == 9:
                return "gff3" if ("=" in cols[8] and '"' not in cols[8]) else "gtf"
            if len(cols) == 7:
                return "spliceai"
            break
    if not seen_data and n_lines < 1000:
        raise FastbuildError(f"annotation {path} has no data lines (empty or only comments)")
    raise FastbuildError(
        f"cannot tell the format of annotation {path}; name it .gtf/.gff3 or pass --annotation-format"
    )


# the transcript (GTF) or parent (GFF3) a malformed line belongs to, read from the raw text
_TAINT_PATTERNS = {"gtf": r'transcript_id\s+"([^"]+)"', "gff3": r"(?:^|;|\t)\s*Parent=([^;\t]+)"}


class _Malformed:
    """Collects malformed lines; raises on the first unless skipping is allowed.

    When lines are skipped, the transcripts they name (``transcript_id`` in a GTF, ``Parent``
    in a GFF3) are remembered in ``tainted``: dropping just the bad line would leave such a
    transcript without an exon, and an intron that does not exist where the exon was.
    """

    def __init__(self, path: Path, skip: bool, fmt: str = ""):
        self.path, self.skip = path, skip
        self.count = 0
        self.data_lines = 0
        self.not_utf8 = 0  # lines with bytes that are not UTF-8 (replaced by U+FFFD)
        self.examples: list[str] = []
        self.taint = _TAINT_PATTERNS.get(fmt)
        self.tainted: set[str] = set()
        self.dropped_transcripts = 0

    def _remember_transcripts(self, flagged: pl.DataFrame) -> None:
        src = next((c for c in ("line", "attr") if c in flagged.columns), None)
        if self.taint and src:
            for value in flagged[src].str.extract(self.taint, 1).drop_nulls().to_list():
                self.tainted.update(v.strip() for v in value.split(","))

    def drop_tainted(self, rows: pl.DataFrame, column: str) -> pl.DataFrame:
        """``rows`` without those of transcripts that lost a skipped line (warned once)."""
        bad = pl.col(column).is_in(list(self.tainted))
        n = rows.filter(bad).select(pl.col(column).n_unique()).item() if self.tainted else 0
        if n:
            log.warning("%d transcripts of %s dropped: a line of theirs was malformed and skipped", n, self.path)
        self.dropped_transcripts = n
        return rows.filter(~bad) if n else rows

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
            self._remember_transcripts(flagged)
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
    for block in _line_blocks(path, malformed):
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
            exons.append(e.select(list(_EXON_IN)))
    tx_cols = {**TX_SCHEMA, "gene_name": pl.Utf8, "gene_type": pl.Utf8}
    exons = malformed.drop_tainted(_concat(exons, _EXON_IN), "transcript_id")
    return _concat(genes, GENE_SCHEMA), _concat(txs, tx_cols), exons


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
    for block in _line_blocks(path, malformed):
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
                pl.col("Parent").str.split(",").alias("parent"), "lineno",
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
                         "strand": pl.Utf8, "parent": pl.Utf8, "lineno": pl.Int64})
    return rec, malformed.drop_tainted(ex, "parent")


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
    # two transcript records of one gene that derive the same transcript id keep their own IDs
    same_tid = pl.struct("gene_id", "transcript_id").is_duplicated()
    txs = txs.with_columns(pl.when(same_tid).then(pl.col("_tx_ref")).otherwise(pl.col("transcript_id"))
                           .alias("transcript_id"))
    orphan = ex.join(rec.select(pl.col("ID").alias("parent")), on="parent", how="anti")
    if orphan.height:
        log.warning("%d exon rows name a Parent that is not in %s; skipped", orphan.height, path)
    exons_out = ex.join(
        txs.select(pl.col("_tx_ref").alias("parent"), "transcript_id", "gene_id"), on="parent", how="inner"
    ).select(list(_EXON_IN))
    return genes, txs.drop("_tx_ref"), exons_out


# ---------------------------------------------------------------------------- SpliceAI table
def _read_spliceai(path: Path, malformed: _Malformed):
    """Genes, transcripts and exons of a SpliceAI table (one row = one gene = one transcript)."""
    exons, rows = [], []
    names = ["name", "chrom", "strand", "tx_start", "tx_end", "exon_starts", "exon_ends"]
    for block in _line_blocks(path, malformed):
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
        # a bad exon spoils its whole row: dropping the exon alone would invent an intron
        bad = pl.col("start").is_null() | pl.col("end").is_null() | (pl.col("end") < pl.col("start"))
        ex = ex.with_columns(bad.alias("_bad"))
        bad_rows = ex.filter(pl.col("_bad")).unique("lineno", keep="first", maintain_order=True)
        malformed.check(bad_rows, pl.lit(True), pl.format("bad exon {}-{}", pl.col("es"), pl.col("ee")))
        ex = ex.filter(~pl.col("_bad").any().over("lineno"))
        rows.append(ex.select("lineno", "gene_id").unique("lineno"))
        exons.append(ex.select(
            "chrom", "start", "end", "strand", "gene_id", pl.col("gene_id").alias("transcript_id"), "lineno"
        ))
    ex = _unique_names(_concat(exons, _EXON_IN), _concat(rows, {"lineno": pl.Int64, "gene_id": pl.Utf8}),
                       malformed)
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


def _unique_names(ex: pl.DataFrame, rows: pl.DataFrame, malformed: _Malformed) -> pl.DataFrame:
    """Exon rows of the first row of each name; a name on a later row is a malformed line."""
    rows = rows.sort("lineno").with_columns(pl.col("lineno").min().over("gene_id").alias("_first"))
    rows = malformed.check(
        rows, pl.col("lineno") != pl.col("_first"),
        pl.format("gene {} is already listed on line {} (a SpliceAI table has one row per gene)",
                  pl.col("gene_id"), pl.col("_first")),
    )
    return ex.filter(pl.col("lineno").is_in(rows["lineno"].implode()))


def _concat(frames, schema) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat([f.cast(schema) if set(f.columns) == set(schema) else f for f in frames],
                     how="vertical_relaxed").select(list(schema))


# ---------------------------------------------------------------------------- assembly
def load_annotation(path, fmt: str = "auto", skip_malformed: bool = False) -> Annotation:
    """Read an annotation file and derive genes, transcripts, exons, introns and sites.

    Transcripts are keyed by (gene_id, transcript_id): an id shared by two genes gives each
    gene its own transcript (counted in ``summary['transcript_ids_shared_by_genes']`` and
    warned about with line numbers), never one transcript with an intron between the genes.

    Parameters
    ----------
    path : str or Path
        GTF, GFF3 or SpliceAI annotation table (``#NAME CHROM STRAND TX_START TX_END
        EXON_START EXON_END``, 0-based starts), optionally gzip-compressed.
    fmt : {'auto', 'gtf', 'gff3', 'spliceai'}
    skip_malformed : bool
        Count, report and skip malformed lines instead of stopping at the first; the
        transcripts such a line belongs to are dropped whole.

    Raises
    ------
    FastbuildError
        Missing, unreadable or corrupt file, unknown format, (unless skipping) a malformed
        line named with its line number, or a file without any usable exon record.
    """
    path = check_input_file(path, "annotation file")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise FastbuildError(f"unknown annotation format {fmt!r}; use one of {', '.join(FORMATS)}")
    malformed = _Malformed(path, skip_malformed, fmt)
    reader = {"gtf": _read_gtf, "gff3": _read_gff3, "spliceai": _read_spliceai}[fmt]
    gene_rec, tx_rec, exons = reader(path, malformed)
    if exons.height == 0:
        raise FastbuildError(_no_exons_message(path, fmt, malformed))
    if malformed.not_utf8:
        log.warning("%s: %d lines hold bytes that are not UTF-8; they were read with U+FFFD in their place",
                    path, malformed.not_utf8)
    shared = _shared_transcript_ids(exons, path)
    ann = assemble(gene_rec, tx_rec, exons)
    if ann.exons.height == 0:
        raise FastbuildError(
            f"annotation {path} has no usable transcript: every one spans several contigs or strands "
            "or belongs to a gene that does"
        )
    ann.summary.update(format=fmt, malformed_lines=malformed.count, malformed_examples=malformed.examples,
                       lines_not_utf8=malformed.not_utf8,
                       transcripts_dropped_for_malformed_lines=malformed.dropped_transcripts, **shared)
    return ann


def _no_exons_message(path: Path, fmt: str, malformed: _Malformed) -> str:
    """Why ``path`` gave no exon rows, in one line."""
    if malformed.data_lines == 0:
        return f"annotation {path} has no data lines (empty or only comments); nothing to read"
    what = "rows" if fmt == "spliceai" else "exon records"
    if malformed.count:
        return (f"annotation {path} has no usable {what}: {malformed.count} of its {malformed.data_lines} "
                "data lines were malformed and skipped")
    hint = {"gtf": " (no 'exon' lines with gene_id and transcript_id)",
            "gff3": " (no 'exon' lines whose Parent is a transcript in the file)"}.get(fmt, "")
    return f"annotation {path} has no usable {what} in {malformed.data_lines} data lines{hint}"


def _shared_transcript_ids(exons: pl.DataFrame, path: Path) -> dict:
    """Count (and warn about, with line numbers) transcript ids used by more than one gene."""
    firsts = exons.group_by("transcript_id", "gene_id").agg(pl.col("lineno").min()).sort("lineno")
    shared = firsts.filter(pl.len().over("transcript_id") > 1)
    n = shared["transcript_id"].n_unique()
    examples = [
        f"{tid} ({', '.join(f'gene {g} at line {ln}' for g, ln in zip(genes, lines, strict=True))})"
        for tid, genes, lines in shared.group_by("transcript_id", maintain_order=True)
        .agg("gene_id", "lineno").head(MAX_REPORTED).iter_rows()
    ]
    if n:
        log.warning("%s: %d transcript ids are used by several genes, e.g. %s; each gene keeps its own "
                    "transcript", path, n, examples[0])
    return {"transcript_ids_shared_by_genes": n, "shared_transcript_id_examples": examples}


TX_KEY = ["gene_id", "transcript_id"]
"""What identifies a transcript: a transcript id is only unique within its gene."""


def assemble(gene_rec: pl.DataFrame, tx_rec: pl.DataFrame, exons: pl.DataFrame) -> Annotation:
    """Derive the reference tables from gene records, transcript records and exon rows.

    Transcripts are keyed by :data:`TX_KEY` (gene_id, transcript_id); gene ids on several
    contigs or strands are dropped (see :func:`_drop_split_genes`).
    """
    summary: dict = {}
    gene_rec, exons = _drop_split_genes(gene_rec, exons, summary)
    gene_rec = gene_rec.unique("gene_id", keep="first", maintain_order=True)
    exons = exons.unique([*TX_KEY, "start", "end"], keep="first", maintain_order=True)
    exons = _number_exons(exons.drop("lineno", strict=False), summary)
    introns, sites = _introns_and_sites(exons, summary)
    transcripts = _transcripts(exons, tx_rec, summary)
    genes = _genes(gene_rec, tx_rec, transcripts, exons, sites, summary)
    summary["transcripts"] = transcripts.height
    summary["introns"] = introns.height
    summary["splice_site_rows"] = sites.height
    return Annotation(genes, transcripts, exons.select(*EXON_SCHEMA, "exon_number"), introns, sites, summary)


def _drop_split_genes(gene_rec: pl.DataFrame, exons: pl.DataFrame, summary: dict):
    """Drop gene ids whose records or exons lie on several contigs or strands.

    Such a gene (the same id on chrX and chrY, or a gene line on one strand with exons on the
    other) would get one span joining both places; it is skipped with a warning instead.
    """
    places = pl.concat([gene_rec.select("gene_id", "chrom", "strand"), exons.select("gene_id", "chrom", "strand")])
    split = places.group_by("gene_id").agg(
        (pl.col("chrom").n_unique() > 1) | (pl.col("strand").n_unique() > 1)
    ).filter(pl.col("chrom"))["gene_id"].sort()
    summary["genes_on_several_contigs_or_strands"] = split.len()
    if split.len():
        log.warning("%d gene ids lie on several contigs or strands (e.g. %s); skipped",
                    split.len(), ", ".join(split.head(5).to_list()))
        keep = ~pl.col("gene_id").is_in(split.implode())
        gene_rec, exons = gene_rec.filter(keep), exons.filter(keep)
    return gene_rec, exons


def _number_exons(exons: pl.DataFrame, summary: dict) -> pl.DataFrame:
    """Drop transcripts on several contigs or strands; number exons in transcript orientation."""
    # a transcript must sit on one contig and one strand
    bad_tx = exons.group_by(TX_KEY).agg(
        ((pl.col("chrom").n_unique() > 1) | (pl.col("strand").n_unique() > 1)).alias("_bad")
    ).filter(pl.col("_bad")).select(TX_KEY)
    summary["transcripts_mixed_contig_or_strand"] = bad_tx.height
    if bad_tx.height:
        log.warning("%d transcripts span several contigs or strands; skipped", bad_tx.height)
        exons = exons.join(bad_tx, on=TX_KEY, how="anti")

    # exon order in transcript orientation
    exons = exons.sort(["transcript_id", "gene_id", "start"])
    exons = exons.with_columns(
        pl.when(pl.col("strand") == "+")
        .then(pl.int_range(1, pl.len() + 1).over(TX_KEY))
        .otherwise(pl.int_range(pl.len(), 0, -1).over(TX_KEY))
        .cast(pl.Int32).alias("exon_number")
    )
    return exons


def _introns_and_sites(exons: pl.DataFrame, summary: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Introns between consecutive exons, and their donor and acceptor sites (exon-side bases)."""
    # introns between consecutive exons (genomic order)
    nxt = exons.with_columns(
        pl.col("start").shift(-1).over(TX_KEY).alias("next_start")
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
    ]).sort(["chrom", "position", "site_type", "transcript_id", "gene_id"])
    return introns, sites


def _transcripts(exons: pl.DataFrame, tx_rec: pl.DataFrame, summary: dict) -> pl.DataFrame:
    """One row per transcript, spans and lengths from its exons."""
    # transcripts
    tx_agg = exons.group_by(TX_KEY, maintain_order=True).agg(
        pl.col("chrom").first(), pl.col("start").min(),
        pl.col("end").max(), pl.col("strand").first(), pl.len().cast(pl.Int32).alias("n_exons"),
        (pl.col("end") - pl.col("start") + 1).sum().alias("transcript_length"),
    )
    tx_info = tx_rec.unique(TX_KEY, keep="first").select(*TX_KEY, "transcript_type")
    transcripts = tx_agg.join(tx_info, on=TX_KEY, how="left").select(
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
