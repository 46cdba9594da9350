"""Gene selection: id normalisation, the reference's policies, seeded and reported.

Final selection = the extra genes (``--gene-ids-file``) first, then the policy fills up to
``max(n_genes, len(extras))``; ``--gene-types`` filters both. Policies:

* ``error_total`` / ``error_fp`` / ``error_fn``: genes ranked by FP+FN, FP or FN counts of the
  base model against the annotation (ties broken by gene id);
* ``random``: a uniform sample seeded with ``--seed``;
* ``custom``: the extra genes only;
* ``all``: every candidate gene (``--n-genes`` is ignored).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.files import read_text
from fastbuild.seeds import gene_seed
from fastbuild.specs import POLICIES, SCORELESS_POLICIES, SelectionSpec  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"^(ENS[A-Z]*[GT]\d+)\.\d+$")


def strip_version(gene_id: str) -> str:
    """``ENSG00000012048.23`` -> ``ENSG00000012048``; other ids unchanged."""
    m = _VERSION_RE.match(gene_id)
    return m.group(1) if m else gene_id


def read_gene_ids(path, gene_col: str | None = None) -> list[str]:
    """Gene identifiers from a plain list (one per line) or a TSV/CSV with a header.

    For a table, ``gene_col`` names the column (default: ``gene_id``, else ``gene_name``, else
    the first column). Blank lines and ``#`` comments are ignored, surrounding double quotes
    are dropped, duplicates are kept once (first occurrence).

    Raises
    ------
    FastbuildError
        When the file is missing, a directory, unreadable or not UTF-8 text; when ``gene_col``
        is not a column; when a row lacks the id column; when it lists no gene ids.
    """
    path = Path(path)
    text = read_text(path, "gene ids file")
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)]
    lines = [(n, ln) for n, ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise FastbuildError(f"gene ids file {path} lists no gene ids (it is empty or only comments)")
    first = lines[0][1]
    sep = "\t" if "\t" in first else "," if "," in first else None
    if sep is None and gene_col is None:
        return list(dict.fromkeys(_unquote(ln) for _, ln in lines))
    header = [_unquote(h) for h in first.split(sep)] if sep else [_unquote(first)]
    if gene_col is not None:
        if gene_col not in header:
            raise FastbuildError(f"--gene-col {gene_col!r} is not a column of {path} (columns: {', '.join(header)})")
        col = header.index(gene_col)
    else:
        col = next((header.index(c) for c in ("gene_id", "gene_name") if c in header), 0)
    values = []
    for n, ln in lines[1:]:
        fields = ln.split(sep) if sep else [ln]
        if col >= len(fields):
            raise FastbuildError(f"{path}:{n}: {len(fields)} columns, no column {header[col]!r} (column {col + 1})")
        values.append(_unquote(fields[col]))
    ids = list(dict.fromkeys(v for v in values if v))
    if not ids:
        raise FastbuildError(f"gene ids file {path} lists no gene ids (column {header[col]!r} has no values)")
    return ids


def _unquote(value: str) -> str:
    """``' "ENSG1" '`` -> ``'ENSG1'`` (spaces and one pair of double quotes removed)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    return value


@dataclass
class Resolution:
    """Outcome of mapping user-given identifiers to annotation gene ids."""

    gene_ids: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    by_name: int = 0


def resolve_ids(wanted: list[str], genes: pl.DataFrame) -> Resolution:
    """Map ids or names to the annotation's gene ids.

    Tried in order: exact gene id; id without an Ensembl version suffix (on both sides);
    gene name, case-insensitively. Ambiguous names map to every gene carrying them.
    """
    wanted = list(wanted)
    ids = genes["gene_id"].to_list()
    exact = set(ids)
    unversioned: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    if not exact.issuperset(wanted):  # the other two maps only when an id is not a gene id as it is
        for g in ids:
            unversioned.setdefault(strip_version(g), g)
        for g, name in genes.select("gene_id", "gene_name").iter_rows():
            if name:
                by_name.setdefault(name.lower(), []).append(g)
    res = Resolution()
    seen: set[str] = set()
    for w in wanted:
        if w in exact:
            hits = [w]
        elif strip_version(w) in unversioned:
            hits = [unversioned[strip_version(w)]]
        elif w.lower() in by_name:
            hits = by_name[w.lower()]
            res.by_name += 1
        else:
            res.unresolved.append(w)
            continue
        for h in hits:
            if h not in seen:
                seen.add(h)
                res.gene_ids.append(h)
    return res


@dataclass
class Selection:
    """Selected genes (annotation order) and what happened on the way."""

    gene_ids: list[str]
    extras: list[str]
    unresolved: list[str]
    dropped_by_type: list[str]
    policy: str
    notes: list[str] = field(default_factory=list)


def is_pseudogene_type(gene_type) -> bool:
    """True for every pseudogene type: RefSeq ``pseudogene`` / ``transcribed_pseudogene``, GENCODE
    ``processed_pseudogene``, ``unprocessed_pseudogene``, ``IG_V_pseudogene``... (case-insensitive)."""
    return gene_type is not None and "pseudogene" in str(gene_type).lower()


def select_genes(
    genes: pl.DataFrame,
    candidates: list[str],
    policy: str,
    n_genes: int,
    seed: int,
    gene_types=(),
    extra_ids: list[str] | None = None,
    error_counts: pl.DataFrame | None = None,
    drop_pseudogenes: bool = False,
) -> Selection:
    """Apply a selection policy.

    Parameters
    ----------
    genes : polars.DataFrame
        The annotation's genes (gene_id, gene_name, gene_type, ...).
    candidates : list of str
        Gene ids the policy may draw from (genes with scores, or all with a base model).
    policy : str
        One of :data:`POLICIES`.
    error_counts : polars.DataFrame, optional
        gene_id, fp, fn per candidate; needed by the error policies.
    drop_pseudogenes : bool
        Leave out genes of pseudogene types (:func:`is_pseudogene_type`) like ``gene_types`` does.

    Returns
    -------
    Selection
        ``gene_ids`` in the annotation's genomic order (chrom, start).
    """
    notes = []
    types = set(gene_types or ())
    type_of = dict(genes.select("gene_id", "gene_type").iter_rows())
    res = resolve_ids(extra_ids or [], genes)
    if res.unresolved:
        log.warning("%d requested genes are not in the annotation: %s", len(res.unresolved),
                    ", ".join(res.unresolved[:10]))
    extras = res.gene_ids
    dropped = []
    if types:
        dropped = [g for g in extras if type_of.get(g) not in types]
        extras = [g for g in extras if type_of.get(g) in types]
        if dropped:
            notes.append(f"{len(dropped)} requested genes dropped by --gene-types")
        candidates = [g for g in candidates if type_of.get(g) in types]
    if drop_pseudogenes:
        pseudo = [g for g in extras if is_pseudogene_type(type_of.get(g))]
        if pseudo:
            notes.append(f"{len(pseudo)} requested genes of pseudogene types left out of this training build "
                         "(--pseudogenes drop)")
        dropped += pseudo
        extras = [g for g in extras if not is_pseudogene_type(type_of.get(g))]
        candidates = [g for g in candidates if not is_pseudogene_type(type_of.get(g))]
    target = max(n_genes, len(extras))
    pool = [g for g in candidates if g not in set(extras)]
    fill = _fill(policy, pool, target - len(extras), seed, error_counts, notes)
    chosen = set(extras) | set(fill)
    ordered = genes.filter(pl.col("gene_id").is_in(list(chosen)))["gene_id"].to_list()
    return Selection(ordered, extras, res.unresolved, dropped, policy, notes)


def _fill(policy: str, pool: list[str], want: int, seed: int, error_counts, notes: list) -> list[str]:
    """The genes a policy adds to the extra genes (``want`` of ``pool``; every one for 'all')."""
    if policy == "custom":
        return []
    if policy == "all":
        notes.append("policy 'all': every candidate gene, --n-genes ignored")
        return pool
    if policy == "random":
        k = min(want, len(pool))
        rng = np.random.default_rng(gene_seed(seed, "random-policy"))
        return [pool[i] for i in sorted(rng.choice(len(pool), size=k, replace=False))] if k > 0 else []
    if error_counts is None:
        raise FastbuildError(f"policy {policy} needs base-model scores to rank genes by errors")
    metric = {"error_total": pl.col("fp") + pl.col("fn"), "error_fp": pl.col("fp"), "error_fn": pl.col("fn")}[policy]
    ranked = error_counts.filter(pl.col("gene_id").is_in(pool)).with_columns(metric.alias("_m")) \
        .sort(["_m", "gene_id"], descending=[True, False])
    return ranked["gene_id"].head(max(0, want)).to_list()


def choose_genes(spec: SelectionSpec, genes: pl.DataFrame, candidates: list[str],
                 error_counts: pl.DataFrame | None = None, drop_pseudogenes: bool = False) -> Selection:
    """Apply ``spec`` to the annotation's ``genes``; stop with a clear error when none is left.

    ``candidates`` are the gene ids the policy may draw from; ``error_counts`` (gene_id, fp, fn)
    ranks them for the ``error_*`` policies; ``drop_pseudogenes`` leaves out pseudogene types
    (training builds' ``--pseudogenes drop``).
    """
    extras = read_gene_ids(spec.gene_ids_file, spec.gene_col) if spec.gene_ids_file else []
    sel = select_genes(genes, candidates, spec.subset_policy, spec.n_genes, spec.seed,
                       spec.gene_types, extras, error_counts, drop_pseudogenes)
    for note in sel.notes:
        log.info(note)
    if not sel.gene_ids and extras and len(sel.unresolved) == len(extras):
        raise FastbuildError(
            f"none of the {len(extras)} gene ids in {spec.gene_ids_file} is in the annotation "
            f"(e.g. {', '.join(extras[:3])}); check the ids file against the annotation")
    if not sel.gene_ids:
        why = "no gene has scores" if not candidates else "nothing matched the selection flags"
        hint = " (training builds leave out pseudogenes: --pseudogenes keep)" if drop_pseudogenes else ""
        raise FastbuildError(f"no genes selected ({why}); check --scores, --gene-types and --gene-ids-file{hint}")
    return sel


#: A type "carries no annotated splice sites" when fewer than this share of its selected genes have one.
SPLICED_TYPE_SHARE = 0.5


def unspliced_warning(genes: pl.DataFrame) -> str | None:
    """One line when most of a training build's genes are of types that (mostly) carry no annotated
    splice site, naming those types and the flag to change it; None otherwise.

    ``genes`` holds the selected genes' ``gene_type`` and ``n_splice_sites``.
    """
    if genes.height == 0:
        return None
    per_type = genes.group_by("gene_type").agg(n=pl.len(), spliced=(pl.col("n_splice_sites") > 0).mean())
    bare = per_type.filter(pl.col("spliced") < SPLICED_TYPE_SHARE).sort(["n", "gene_type"], descending=[True, False])
    n_bare = int(bare["n"].sum())
    if n_bare * 2 <= genes.height:
        return None
    names = ", ".join(f"{t} {n}" for t, n in bare.select("gene_type", "n").head(4).iter_rows())
    return (f"training build: {n_bare} of its {genes.height} genes ({100 * n_bare / genes.height:.0f}%) are of types "
            f"that mostly carry no annotated splice site ({names}); the base model's calls in them all become FP "
            "labels, which can teach a meta-model to miss real sites: choose spliced types with --gene-types "
            "(e.g. --gene-types protein_coding lncRNA)")
