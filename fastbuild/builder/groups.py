"""Per-gene grouping columns of a build: split, gene cluster and the base model's training chromosomes.

Computed once per build from the whole annotation (clusters need every gene, selected or not)
and joined onto the selected genes, so each gene's rows carry them as constants.
"""

from __future__ import annotations

import polars as pl

from fastbuild.builder.splits import on_training_chromosome, split_genes

GROUP_COLUMNS = ("split", "gene_cluster", "base_model_training_chrom")


def add_group_columns(selected: pl.DataFrame, all_genes: pl.DataFrame, split: str,
                      model_name: str | None) -> pl.DataFrame:
    """``selected`` with the columns of :data:`GROUP_COLUMNS` (in its own row order).

    Parameters
    ----------
    selected : polars.DataFrame
        The genes the build works on (a subset of ``all_genes``).
    all_genes : polars.DataFrame
        Every gene of the annotation (gene_id, chrom, start, end, strand).
    split : str
        The ``--split`` specification.
    model_name : str, optional
        Name of the base model whose scores the build uses (its training chromosomes, when its
        documentation names them); None: unknown.
    """
    genes = all_genes.select("gene_id", "chrom", "start", "end", "strand")
    assigned = split_genes(genes, split)  # clusters once, splits by cluster
    groups = genes.select("gene_id").with_columns(
        gene_cluster=assigned.cluster.cast(pl.Utf8),
        split=assigned.split,
        base_model_training_chrom=(on_training_chromosome(genes, model_name) if model_name
                                   else pl.lit(None, dtype=pl.Boolean)),
    )
    drop = [c for c in GROUP_COLUMNS if c in selected.columns]
    return selected.drop(drop).join(groups, on="gene_id", how="left", maintain_order="left")
