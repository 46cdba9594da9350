"""The genes a variant run scores against: loaded from an annotation once per process, as :class:`Gene` objects.

The annotation is any that ``fastbuild prepare`` reads (GTF, GFF3, SpliceAI table), the tables
of ``--reference DIR``, or ``grch37`` / ``grch38`` (SpliceAI's own canonical-transcript tables,
shipped in the ``spliceai`` package). Contig names are fitted to the FASTA as prepare does
(``chr1`` matches ``1``). A gene's SYMBOL is its name (gene_id where it has none); its sites for
``-M 1`` are the annotated donors and acceptors of all its transcripts (the SpliceAI tables have
one transcript per gene).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.reference import load_reference, resolve_inputs
from fastbuild.specs import InputSpec
from fastbuild.variants.annotate import GeneIndex
from fastbuild.variants.semantics import Gene

__all__ = ["SPLICEAI_TABLES", "load_genes", "resolve_annotation"]

SPLICEAI_TABLES = ("grch37", "grch38")


def resolve_annotation(spec: InputSpec) -> InputSpec:
    """``--annotation grch37`` / ``grch38``: the table of the installed spliceai package, else ``spec`` unchanged."""
    name = spec.annotation
    if name is None or name.lower() not in SPLICEAI_TABLES or Path(name).exists():
        return spec
    found = importlib.util.find_spec("spliceai")
    for loc in (found.submodule_search_locations or []) if found else []:
        path = Path(loc) / "annotations" / f"{name.lower()}.txt"
        if path.is_file():
            return replace(spec, annotation=str(path), annotation_format="spliceai")
    raise FastbuildError(f"--annotation {name}: SpliceAI's {name.lower()} table comes with the spliceai package "
                         "(pip install 'fastbuild-splice[spliceai]'); or give the table's path")


def _sites(sites: pl.DataFrame) -> dict:
    """gene_id -> (acceptor positions, donor positions)."""
    out: dict = {}
    for (gid, kind), part in sites.group_by(["gene_id", "site_type"]):
        acc, don = out.get(gid, ((), ()))
        pos = tuple(sorted(set(part["position"].to_list())))
        out[gid] = (pos, don) if kind == "acceptor" else (acc, pos)
    return out


def load_genes(spec: InputSpec, genome) -> tuple[dict, dict]:
    """Genes per FASTA contig (:class:`GeneIndex`) and the annotation's load summary.

    Parameters
    ----------
    spec : InputSpec
        The annotation (after :func:`resolve_annotation`) or ``--reference DIR``.
    genome : Genome
        The open genome (contig names are fitted to it).
    """
    inputs = resolve_inputs(spec)
    ann = load_reference(inputs, spec, genome)
    sites = _sites(ann.splice_sites)
    genes = ann.genes.with_columns(pl.coalesce("gene_name", "gene_id").alias("_symbol"))
    by_contig: dict = {}
    for gid, symbol, chrom, start, end, strand in genes.select(
            "gene_id", "_symbol", "chrom", "start", "end", "strand").iter_rows():
        acc, don = sites.get(gid, ((), ()))
        by_contig.setdefault(chrom, []).append(Gene(symbol, chrom, int(start), int(end), strand, acc, don))
    return {c: GeneIndex(g) for c, g in by_contig.items()}, dict(ann.summary)
