"""Leakage-safe train/valid/test splits of genes, kept whole per gene cluster.

A pure module: it reads a genes table (gene_id, chrom, start, end; 1-based inclusive, as in
:class:`~fastbuild.annotation.Annotation`) and, for ``file:`` specs, one small table; it writes
nothing.

**Specs** (``--split``, parsed by :func:`parse_split`):

* ``none`` (default): no split; the split column is null.
* ``spliceai``: SpliceAI's chromosome split (Jaganathan et al. 2019): test = chr1, 3, 5, 7, 9;
  train = chr2, 4, 6, 8, 10-22, X, Y; genes on any other contig (chrM, unplaced, alt, another
  species' names) are ``unassigned``.
* ``chrom:SPLIT=C1,C2;SPLIT=C3;SPLIT=rest``: contig lists. ``rest`` (alone after ``=``, at
  most once) takes every contig not listed; without it those genes are ``unassigned``.
* ``region:SPLIT=CHROM:START-END,CHROM:START-END;SPLIT=rest``: regions, 1-based inclusive. A
  gene lies in the region that holds its midpoint ``(start + end) // 2``. Regions of two
  different splits must not overlap.
* ``file:PATH``: a TSV or CSV (gzip allowed; tab if the header has one, else comma) with a
  header naming ``gene_id`` and ``split`` columns. Ids are matched exactly; ids of the file
  that are not in the genes table are ignored (counted); genes the file does not list are
  ``unassigned`` (counted).

Contig names of ``spliceai``, ``chrom:`` and ``region:`` specs are matched case-insensitively
with or without a ``chr`` prefix (``1``, ``chr1`` and ``Chr1`` are the same contig); other
naming schemes (RefSeq ``NC_000001.11``) are matched by name only. Split names are identifiers
(a letter, then letters, digits, ``_`` or ``-``; at most 64); ``rest`` is a keyword, not a name.

**Clusters** (:func:`gene_clusters`): genes whose spans share at least one base, on either
strand and including nested genes, are in one cluster, transitively (``end == start - 1`` of the
next gene is adjacent, not overlapping). A cluster's id is ``chrom:start-end`` of its span: the
same whatever the order of the rows.

**The cluster rule**: every gene first gets its own split from the spec; a cluster then takes
the own split of its first gene, in (start, end, gene_id) order, that is not ``unassigned``
(``unassigned`` when none is), and every gene of the cluster follows it. Genes whose split this
changes are counted as moved (``genes_moved``, ``clusters_moved``): a region boundary that cuts a
cluster, or a ``file:`` table that splits one, never splits it in the dataset.

Paralogs are not clustered (no aligner is run): two copies of a gene family on different
contigs can land in different splits. OpenSpliceAI's ``create-data --remove-paralogs``
(minimap2) is one way to screen them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import polars as pl

from fastbuild.builder.split_spec import (  # noqa: F401 - the spec half lives there (light, no polars)
    BASE_MODEL_TRAINING,
    KINDS,
    MAX_NAME,
    NONE,
    REST,
    SPEC_HINT,
    SPLICEAI,
    SPLICEAI_TEST,
    SPLICEAI_TRAIN,
    UNASSIGNED,
    SplitSpec,
    check_split_name,
    contig_key,
    parse_split,
)
from fastbuild.errors import FastbuildError
from fastbuild.files import read_text

log = logging.getLogger(__name__)


@dataclass
class SplitAssignment:
    """What :func:`split_genes` gives: two columns aligned with the genes rows, and counts."""

    split: pl.Series
    cluster: pl.Series
    summary: dict = field(default_factory=dict)


def _check_genes(genes: pl.DataFrame) -> None:
    missing = [c for c in ("gene_id", "chrom", "start", "end") if c not in genes.columns]
    if missing:
        raise FastbuildError(f"genes table lacks column(s) {', '.join(missing)}; give the annotation's genes table")
    nulls = [c for c in ("gene_id", "chrom", "start", "end") if genes[c].null_count()]
    if nulls:
        raise FastbuildError(f"genes table has missing values in {', '.join(nulls)}; every gene needs an id and a span")


def _clustered(genes: pl.DataFrame) -> pl.DataFrame:
    """Genes sorted by (chrom, start, end, gene_id) with ``_row`` (input row), ``_cid`` (cluster
    number) and ``gene_cluster`` (``chrom:start-end`` of the cluster span)."""
    g = genes.select("gene_id", "chrom", pl.col("start").cast(pl.Int64), pl.col("end").cast(pl.Int64))
    g = g.with_row_index("_row").sort(["chrom", "start", "end", "gene_id"])
    reach = pl.col("end").cum_max().shift(1).over("chrom")  # furthest end of the genes before, same contig
    g = g.with_columns(_cid=(reach.is_null() | (pl.col("start") > reach)).cum_sum())
    span = pl.format("{}:{}-{}", pl.col("chrom"), pl.col("start").min().over("_cid"), pl.col("end").max().over("_cid"))
    return g.with_columns(gene_cluster=span)


def gene_clusters(genes: pl.DataFrame) -> pl.Series:
    """Cluster id of each gene: genes whose spans overlap (either strand, nested included) share one.

    Parameters
    ----------
    genes : polars.DataFrame
        At least gene_id, chrom, start, end (1-based inclusive).

    Returns
    -------
    polars.Series
        ``gene_cluster`` (Utf8), aligned with ``genes`` rows: ``chrom:start-end`` of the span of
        the cluster (the union of its genes' spans), independent of row order. O(n log n).
    """
    _check_genes(genes)
    if genes.height == 0:
        return pl.Series("gene_cluster", [], pl.Utf8)
    return _clustered(genes).sort("_row")["gene_cluster"]


# ---------------------------------------------------------------------------- own splits


def contig_key_expr(column: str = "chrom") -> pl.Expr:
    """:func:`contig_key` of a column, as a polars expression."""
    return pl.col(column).str.strip_chars().str.to_lowercase().str.replace(r"^chr(.)", "$1")


def _by_contig(g: pl.DataFrame, spec: SplitSpec) -> pl.Expr:
    mapping = {contig_key(c): name for name, items in spec.clauses for c in items}
    return contig_key_expr().replace_strict(mapping, default=spec.rest or UNASSIGNED, return_dtype=pl.Utf8)


def _by_region(g: pl.DataFrame, spec: SplitSpec) -> pl.Series:
    """Own split of each gene of ``g``: the region holding its midpoint (regions of one split merged)."""
    regions = pl.DataFrame(
        [(contig_key(c), s, e, name) for name, items in spec.clauses for c, s, e in items],
        schema={"_key": pl.Utf8, "_rs": pl.Int64, "_re": pl.Int64, "_split": pl.Utf8}, orient="row",
    ).sort("_key", "_rs")
    # merge overlapping regions of the same split (regions of different splits never overlap)
    regions = regions.with_columns(
        _grp=(pl.col("_rs") > pl.col("_re").cum_max().shift(1).over("_key")).fill_null(True).cum_sum()
    ).group_by("_grp").agg(pl.col("_key", "_split", "_rs").first(), pl.col("_re").max()).sort("_rs")
    mid = g.select(
        "_row", _key=contig_key_expr(), _mid=(pl.col("start") + pl.col("end")) // 2
    ).sort("_mid")
    hit = mid.join_asof(regions, left_on="_mid", right_on="_rs", by="_key", strategy="backward",
                    check_sortedness=False)
    inside = pl.when(pl.col("_mid") <= pl.col("_re")).then(pl.col("_split"))
    own = hit.select("_row", own=inside.fill_null(pl.lit(spec.rest or UNASSIGNED)))
    return g.select("_row").join(own, on="_row", how="left", maintain_order="left")["own"]


def read_split_file(path) -> pl.DataFrame:
    """The (gene_id, split) table of a ``file:`` spec.

    A header naming ``gene_id`` and ``split`` (other columns ignored) is required; tab-separated
    when the header holds a tab, else comma-separated; blank lines and ``#`` comments skipped.

    Raises
    ------
    FastbuildError
        Missing or unreadable file, no header, missing column, a short row, an empty or bad
        split name, or one gene given two different splits.
    """
    text = read_text(path, "--split file")
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)]
    lines = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise FastbuildError(f"--split file {path} is empty; give a header 'gene_id<TAB>split' and one gene a line")
    sep = "\t" if "\t" in lines[0][1] else ","
    header = [h.strip().strip('"').strip() for h in lines[0][1].split(sep)]
    missing = [c for c in ("gene_id", "split") if c not in header]
    if missing:
        raise FastbuildError(f"--split file {path} has no {' or '.join(missing)} column in its header "
                             f"(columns: {', '.join(header)}); the header must name gene_id and split")
    gi, si = header.index("gene_id"), header.index("split")
    rows = {}
    for n, ln in lines[1:]:
        fields = [f.strip().strip('"').strip() for f in ln.split(sep)]
        if max(gi, si) >= len(fields):
            raise FastbuildError(f"{path}:{n}: {len(fields)} columns, expected gene_id and split")
        gid, split = fields[gi], fields[si]
        if not gid or not split:
            raise FastbuildError(f"{path}:{n}: empty gene_id or split")
        check_split_name(split, f"file:{path}")
        if rows.setdefault(gid, (split, n))[0] != split:
            raise FastbuildError(f"{path}:{n}: gene {gid} is given split {split!r} here and "
                                 f"{rows[gid][0]!r} on line {rows[gid][1]}; give it one split")
    return pl.DataFrame({"gene_id": list(rows), "split": [s for s, _ in rows.values()]},
                        schema={"gene_id": pl.Utf8, "split": pl.Utf8})


def _by_file(g: pl.DataFrame, spec: SplitSpec, summary: dict) -> pl.Series:
    table = read_split_file(spec.path)
    summary["file_genes_not_in_genes_table"] = table.filter(~pl.col("gene_id").is_in(g["gene_id"].implode())).height
    own = g.select("_row", "gene_id").join(table, on="gene_id", how="left", maintain_order="left")
    summary["genes_missing_from_file"] = own["split"].null_count()
    if summary["file_genes_not_in_genes_table"]:
        log.info("--split file %s: %d genes of the file are not among the genes and are ignored",
                 spec.path, summary["file_genes_not_in_genes_table"])
    return own["split"].fill_null(UNASSIGNED)


def _own_splits(g: pl.DataFrame, spec: SplitSpec, summary: dict) -> pl.Series:
    """Each gene's split by the spec alone (rows in the order of ``g``)."""
    if spec.kind in ("spliceai", "chrom"):
        return g.select(own=_by_contig(g, spec))["own"]
    if spec.kind == "region":
        return _by_region(g, spec)
    if spec.kind == "file":
        return _by_file(g, spec, summary)
    raise FastbuildError(f"--split kind {spec.kind!r} is not one of {', '.join(KINDS)}")


# ---------------------------------------------------------------------------- assignment


def _resolve(g: pl.DataFrame) -> pl.DataFrame:
    """Every cluster takes the own split of its first assigned gene (rows sorted, see module)."""
    first = pl.col("own").filter(pl.col("own") != UNASSIGNED).first().over("_cid")
    return g.with_columns(split=first.fill_null(pl.lit(UNASSIGNED)))


def _summary(g: pl.DataFrame, spec: SplitSpec, summary: dict) -> dict:
    moved = g.filter(pl.col("own") != pl.col("split"))
    counts = g.group_by("split").len().sort("split")
    sizes = g.group_by("_cid").len()["len"]
    summary.update(
        split=spec.text, genes=g.height, clusters=sizes.len(), multi_gene_clusters=int((sizes > 1).sum()),
        genes_per_split=dict(counts.iter_rows()), genes_moved=moved.height,
        clusters_moved=moved["_cid"].n_unique(), unassigned_genes=int((g["split"] == UNASSIGNED).sum()),
    )
    if spec.kind in ("chrom", "region"):
        present = set(g.select(contig_key_expr().unique())["chrom"].to_list())
        listed = [c for _, items in spec.clauses for c in (items if spec.kind == "chrom" else [r[0] for r in items])]
        summary["contigs_without_genes"] = sorted({c for c in listed if contig_key(c) not in present})
    return summary


def split_genes(genes: pl.DataFrame, spec: SplitSpec | str) -> SplitAssignment:
    """Split and cluster of every gene, and counts of what the rules did.

    Parameters
    ----------
    genes : polars.DataFrame
        At least gene_id, chrom, start, end (1-based inclusive): the annotation's genes table
        or any subset of its rows.
    spec : SplitSpec or str
        A parsed spec or ``--split`` text.

    Returns
    -------
    SplitAssignment
        ``split`` (Utf8, null for every gene under ``none``), ``cluster`` (see
        :func:`gene_clusters`), both aligned with ``genes`` rows, and ``summary``: split (spec
        text), genes, clusters, multi_gene_clusters, genes_per_split, genes_moved,
        clusters_moved, unassigned_genes; ``contigs_without_genes`` (``chrom:`` / ``region:``)
        and file_genes_not_in_genes_table / genes_missing_from_file (``file:``).
    """
    spec = parse_split(spec) if isinstance(spec, str) else spec
    _check_genes(genes)
    if genes.height == 0:
        empty = pl.Series("split", [], pl.Utf8)
        return SplitAssignment(empty, pl.Series("gene_cluster", [], pl.Utf8), {"split": spec.text, "genes": 0})
    g = _clustered(genes)
    summary: dict = {}
    if spec.kind == "none":
        g = g.with_columns(own=pl.lit(None, pl.Utf8), split=pl.lit(None, pl.Utf8))
    else:
        g = _resolve(g.with_columns(own=_own_splits(g, spec, summary)))
    summary = _summary(g, spec, summary) if spec.kind != "none" else {"split": "none", "genes": g.height}
    if summary.get("clusters_moved"):
        log.info("--split %s: %d gene clusters straddled splits; their %d genes were moved to keep each cluster "
                 "whole", spec.text, summary["clusters_moved"], summary["genes_moved"])
    g = g.sort("_row")
    return SplitAssignment(g["split"].alias("split"), g["gene_cluster"], summary)


def assign_splits(genes: pl.DataFrame, spec: SplitSpec | str) -> pl.Series:
    """One split name per gene (aligned with ``genes`` rows), every gene cluster kept whole.

    See :func:`split_genes` (which also gives the clusters and the counts) and the module
    docstring for the rules. Under ``none`` every value is null.
    """
    return split_genes(genes, spec).split


# ---------------------------------------------------------------------------- base models


def training_chromosomes(model_name: str) -> frozenset[str] | None:
    """Contig keys the named base model was trained on, or ``None`` when not documented.

    ``model_name`` is matched case-insensitively to a key of :data:`BASE_MODEL_TRAINING`,
    exactly or as a prefix followed by ``-`` (``openspliceai-mane-10000nt`` -> ``openspliceai``).
    """
    name = (model_name or "").strip().lower()
    for key in sorted(BASE_MODEL_TRAINING, key=len, reverse=True):
        if name == key or name.startswith(key + "-"):
            return BASE_MODEL_TRAINING[key]
    return None


def on_training_chromosome(genes: pl.DataFrame, model_name: str) -> pl.Series:
    """Whether each gene lies on a chromosome the base model was trained on (null: unknown).

    Parameters
    ----------
    genes : polars.DataFrame
        At least a chrom column.
    model_name : str
        The base model's name (``spliceai``, ``openspliceai-arabidopsis-10000nt`` ...).

    Returns
    -------
    polars.Series
        ``base_model_training_chrom`` (Boolean) aligned with ``genes`` rows; all null when the
        model's training chromosomes are not documented (:data:`BASE_MODEL_TRAINING`). The
        match is by contig name (:func:`contig_key`).
    """
    if "chrom" not in genes.columns:
        raise FastbuildError("genes table lacks column chrom; give the annotation's genes table")
    chroms = training_chromosomes(model_name)
    if chroms is None:
        return pl.Series("base_model_training_chrom", [None] * genes.height, pl.Boolean)
    keys = genes.select(contig_key_expr())["chrom"]
    return keys.is_in(pl.Series(sorted(chroms), dtype=pl.Utf8).implode()).alias("base_model_training_chrom")
