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
import re
from dataclasses import dataclass, field

import polars as pl

from fastbuild.checks import INT64_MAX
from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file, read_text

log = logging.getLogger(__name__)

UNASSIGNED = "unassigned"
"""Split of a gene that no rule of the spec places (another contig, outside every region,
missing from the file)."""
REST = "rest"
"""Keyword for 'every contig / position not listed' in ``chrom:`` and ``region:`` specs."""
KINDS = ("none", "spliceai", "chrom", "region", "file")
MAX_NAME = 64
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_COORD_RE = re.compile(r"(\d+)-(\d+)")
SPEC_HINT = ("use none, spliceai, chrom:test=chr1,chr3;train=rest, region:test=CHROM:START-END;train=rest "
             "or file:PATH")

SPLICEAI_TEST = ("chr1", "chr3", "chr5", "chr7", "chr9")
SPLICEAI_TRAIN = ("chr2", "chr4", "chr6", "chr8", *(f"chr{i}" for i in range(10, 23)), "chrX", "chrY")


def contig_key(name: str) -> str:
    """The name contigs are matched by: lower case, without a leading ``chr`` (``Chr1`` -> ``1``)."""
    key = name.strip().lower()
    return key[3:] if key.startswith("chr") and len(key) > 3 else key


BASE_MODEL_TRAINING: dict[str, frozenset[str] | None] = {
    "spliceai": frozenset(contig_key(c) for c in SPLICEAI_TRAIN),
    "openspliceai": None,
}
"""Base model name -> keys (:func:`contig_key`) of the chromosomes its documentation says it
was trained on; ``None``: not documented.

* ``spliceai``: chr2, 4, 6, 8, 10-22, X, Y (Jaganathan et al. 2019, Cell; chr1, 3, 5, 7, 9
  held out for testing). Human GRCh37 names: the match is by name, so a non-human genome whose
  contigs are called ``chr2`` ... also matches.
* ``openspliceai`` (every published OpenSpliceAI model: MANE human, mouse, zebrafish, honeybee,
  Arabidopsis): unknown. Its ``create-data`` has a ``human`` split method equal to SpliceAI's and
  a ``random`` one (the default for other species), but the documentation of the published
  checkpoints does not say which split trained them.
"""


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``--split`` value (see the module docstring for the grammar).

    Attributes
    ----------
    kind : {'none', 'spliceai', 'chrom', 'region', 'file'}
    clauses : tuple
        ``(split, items)`` in the order given: items are contig names (``spliceai``, ``chrom``)
        or ``(chrom, start, end)`` regions (``region``).
    rest : str or None
        Split of everything not listed; ``None``: ``unassigned``.
    path : str or None
        The table of a ``file:`` spec.
    """

    kind: str = "none"
    clauses: tuple = ()
    rest: str | None = None
    path: str | None = None

    @property
    def text(self) -> str:
        """The canonical spec text (``parse_split(spec.text) == spec``)."""
        if self.kind in ("none", "spliceai"):
            return self.kind
        if self.kind == "file":
            return f"file:{self.path}"
        fmt = (lambda r: f"{r[0]}:{r[1]}-{r[2]}") if self.kind == "region" else str
        parts = [f"{name}={','.join(fmt(i) for i in items)}" for name, items in self.clauses]
        return f"{self.kind}:" + ";".join(parts + ([f"{self.rest}={REST}"] if self.rest else []))

    def __str__(self) -> str:
        return self.text

    @property
    def names(self) -> tuple[str, ...]:
        """Split names the spec can give (``unassigned`` excluded; a file's are known once read)."""
        return tuple(dict.fromkeys([n for n, _ in self.clauses] + ([self.rest] if self.rest else [])))


NONE = SplitSpec()
SPLICEAI = SplitSpec("spliceai", (("test", SPLICEAI_TEST), ("train", SPLICEAI_TRAIN)))


@dataclass
class SplitAssignment:
    """What :func:`split_genes` gives: two columns aligned with the genes rows, and counts."""

    split: pl.Series
    cluster: pl.Series
    summary: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- parsing


def _bad(text: str, why: str) -> FastbuildError:
    return FastbuildError(f"--split {text!r}: {why}")


def check_split_name(name: str, text: str = "") -> str:
    """``name`` must be an identifier (a letter, then letters, digits, ``_``, ``-``), not ``rest``."""
    if not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise _bad(text or name, f"split name {name!r} is not an identifier (a letter, then letters, digits, "
                                 f"_ or -; at most {MAX_NAME} characters)")
    if name.lower() == REST:
        raise _bad(text or name, f"{REST!r} is the keyword for 'everything not listed', not a split name; "
                                 f"write e.g. train={REST}")
    return name


def parse_split(text: str) -> SplitSpec:
    """Parse a ``--split`` value.

    Parameters
    ----------
    text : str
        ``none``, ``spliceai``, ``chrom:...``, ``region:...`` or ``file:PATH`` (module docstring).

    Returns
    -------
    SplitSpec

    Raises
    ------
    FastbuildError
        One line naming the bad part of the spec (unknown kind, bad split name, empty or
        repeated list, bad coordinates, overlapping regions of two splits, missing file ...).
    """
    if not isinstance(text, str):
        raise FastbuildError(f"--split must be text, got {text!r}; {SPEC_HINT}")
    spec = text.strip()
    if spec.lower() in ("none", "spliceai"):
        return NONE if spec.lower() == "none" else SPLICEAI
    kind, sep, body = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS[2:]:
        raise _bad(text, f"unknown kind of split; {SPEC_HINT}")
    if kind == "file":
        path = body.strip()
        if not path:
            raise _bad(text, "no file given; write file:PATH (a TSV/CSV with gene_id and split columns)")
        check_input_file(path, "--split file")
        return SplitSpec("file", path=path)
    clauses, rest = _clauses(text, body, _region if kind == "region" else _contig)
    if kind == "region":
        _check_region_overlaps(text, clauses)
    else:
        _check_unique([(contig_key(c), c) for _, items in clauses for c in items], text, "contig")
    return SplitSpec(kind, clauses, rest)


def _clauses(text: str, body: str, item):
    """``SPLIT=ITEMS;...`` -> ((split, items), ...), rest split (or None)."""
    clauses, rest, seen = [], None, set()
    parts = [p.strip() for p in body.split(";")]
    while parts and not parts[-1]:
        parts.pop()  # a trailing ';' is harmless
    if not parts:
        raise _bad(text, "no SPLIT=LIST clause; write e.g. chrom:test=chr1,chr3;train=rest")
    for part in parts:
        name, eq, value = (s.strip() for s in part.partition("="))
        if not part:
            raise _bad(text, "an empty clause between two ';'")
        if not eq:
            raise _bad(text, f"clause {part!r} has no '='; write SPLIT=LIST")
        check_split_name(name, text)
        if name in seen:
            raise _bad(text, f"split {name!r} is given twice; list all its items in one clause")
        seen.add(name)
        items = [s.strip() for s in value.split(",")]
        if items == [REST]:
            if rest is not None:
                raise _bad(text, f"{REST!r} is given twice ({rest}={REST} and {name}={REST}); keep one")
            rest = name
            continue
        if REST in (s.lower() for s in items):
            raise _bad(text, f"{REST!r} stands alone: write {name}={REST} as its own clause")
        if "" in items:
            raise _bad(text, f"split {name!r} has an empty item in {value!r}")
        clauses.append((name, tuple(item(text, s) for s in items)))
    return tuple(clauses), rest


def _contig(text: str, name: str) -> str:
    return name


def _region(text: str, item: str) -> tuple[str, int, int]:
    """``CHROM:START-END`` (1-based inclusive) -> (chrom, start, end)."""
    chrom, sep, coords = item.rpartition(":")
    m = _COORD_RE.fullmatch(coords.strip())
    if not sep or not chrom.strip() or not m:
        raise _bad(text, f"region {item!r} is not CHROM:START-END (1-based inclusive, digits only)")
    start, end = int(m.group(1)), int(m.group(2))
    if start < 1 or end < start or end > INT64_MAX:
        raise _bad(text, f"region {item!r} needs 1 <= START <= END <= {INT64_MAX} (1-based inclusive)")
    return chrom.strip(), start, end


def _check_unique(keyed: list[tuple[str, str]], text: str, what: str) -> None:
    seen: dict[str, str] = {}
    for key, name in keyed:
        if key in seen:
            raise _bad(text, f"{what} {name!r} is listed twice (as {seen[key]!r}; names match case-insensitively "
                             "with or without 'chr'); list it once")
        seen[key] = name


def _check_region_overlaps(text: str, clauses) -> None:
    """Regions of two different splits must not share a base (same-split overlaps are fine)."""
    regions = sorted((contig_key(c), s, e, name, f"{c}:{s}-{e}") for name, items in clauses for c, s, e in items)
    pairs = ((a, b) for i, a in enumerate(regions) for b in regions[i + 1:])  # a handful, typed by hand
    for a, b in pairs:
        if a[0] == b[0] and b[1] <= a[2] and a[3] != b[3]:
            raise _bad(text, f"regions {a[4]} ({a[3]}) and {b[4]} ({b[3]}) overlap; a position must belong "
                             "to one split")


# ---------------------------------------------------------------------------- clusters


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
