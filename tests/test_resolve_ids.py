"""selection.resolve_ids: exact ids, ids without their version, gene names (case-insensitive)."""

from __future__ import annotations

import polars as pl

from fastbuild.selection import resolve_ids

GENES = pl.DataFrame({"gene_id": ["ENSG1.3", "ENSG2.1", "AT1G01010", "AT1G01020"],
                      "gene_name": ["BRCA1", "tp53", "NAC001", "NAC001"]})


def test_exact_ids_alone():
    res = resolve_ids(["AT1G01020", "ENSG1.3", "AT1G01020"], GENES)
    assert res.gene_ids == ["AT1G01020", "ENSG1.3"] and res.unresolved == [] and res.by_name == 0


def test_versions_names_and_unknowns_beside_exact_ids():
    """One exact id among the others must not stop the other two ways (they are built lazily)."""
    res = resolve_ids(["AT1G01010", "ENSG2", "ENSG1.7", "Tp53", "nac001", "nope"], GENES)
    assert res.gene_ids == ["AT1G01010", "ENSG2.1", "ENSG1.3", "AT1G01020"]
    assert res.unresolved == ["nope"] and res.by_name == 2


def test_nothing_wanted():
    assert resolve_ids([], GENES).gene_ids == []
