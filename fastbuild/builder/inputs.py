"""A build's inputs before any row is made: the score store, the genes chosen, scores ensured."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

import fastbuild_kernels as kernels
from fastbuild.annotation import Annotation
from fastbuild.basemodel.store import ScoreStore
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.genes import NO_SITES, sites_by_gene
from fastbuild.errors import FastbuildError
from fastbuild.progress import Progress
from fastbuild.reference import Inputs
from fastbuild.selection import Selection, choose_genes

log = logging.getLogger(__name__)


def open_store(inputs: Inputs, config: BuildConfig) -> ScoreStore | None:
    """The score store named by the inputs; None when there is none yet and a model will write it."""
    if inputs.scores and Path(inputs.scores).exists():
        store = ScoreStore(inputs.scores)
        if config.model:  # whenever a model is named, the store must hold that model's scores
            from fastbuild.basemodel.models import load_model

            store.check_model(load_model(config.model).identity)
        return store
    if inputs.scores and not config.model:
        raise FastbuildError(f"score store not found: {inputs.scores}")
    return None


def error_counts(store: ScoreStore, genes: pl.DataFrame, ann: Annotation, config: BuildConfig,
                 progress: bool) -> pl.DataFrame:
    """FP and FN counts of the base model per gene (for the error_* selection policies)."""
    sites = sites_by_gene(ann.splice_sites, genes["gene_id"])
    out = []
    bar = Progress(genes.height, "ranking genes by base-model errors", enabled=progress)
    for lo in range(0, genes.height, config.batch_size):
        for info, donor, acceptor, _ in store.iter_gene_scores(genes.slice(lo, config.batch_size)):
            d, a = sites.get(info["gene_id"], NO_SITES).offsets(info)
            pred, _ = kernels.label_positions(donor, acceptor, d, a, config.threshold, config.consensus_window)
            counts = np.bincount(pred, minlength=4)
            out.append((info["gene_id"], int(counts[2]), int(counts[3])))
            bar.update()
    return pl.DataFrame(out, schema={"gene_id": pl.Utf8, "fp": pl.Int64, "fn": pl.Int64}, orient="row")


def select_build_genes(config: BuildConfig, ann: Annotation,
                       store: ScoreStore | None) -> tuple[Selection, pl.DataFrame]:
    """The genes a build works on: candidates are genes with scores (all genes with a model)."""
    genes = ann.genes
    with_scores = set(store.genes()) if store is not None else set()
    all_ids = genes["gene_id"].to_list()
    candidates = all_ids if config.model else [g for g in all_ids if g in with_scores]
    if not candidates and store is not None and store.unindexed_files():
        raise FastbuildError(f"score store {store.path} indexes no gene of this annotation{store.unindexed_hint()}")
    errors = None
    if config.selection.needs_scores and candidates:
        scored = genes.filter(pl.col("gene_id").is_in([g for g in candidates if g in with_scores]))
        if scored.height == 0:
            raise FastbuildError(
                f"policy {config.selection.subset_policy} ranks genes by base-model errors, but no candidate gene "
                "has scores yet; score them first (fastbuild predict) or use --subset-policy random/all/custom"
            )
        errors = error_counts(store, scored, ann, config, config.run.progress)
    sel = choose_genes(config.selection, genes, candidates, errors, config.drops_pseudogenes)
    return sel, genes.filter(pl.col("gene_id").is_in(sel.gene_ids))


def ensure_scores(config: BuildConfig, inputs: Inputs, genome, genes: pl.DataFrame,
                  store: ScoreStore | None) -> Inputs:
    """Score selected genes the store lacks (with a model), or stop with a clear error."""
    have = set(store.genes()) if store is not None else set()
    missing = [g for g in genes["gene_id"].to_list() if g not in have]
    if not missing:
        return inputs
    if not config.model:
        raise FastbuildError(
            f"{len(missing)} selected genes have no base-model scores (e.g. {', '.join(missing[:5])}); "
            "score them with fastbuild predict, or pass --model so that build scores them"
        )
    from fastbuild.basemodel.scoring import score_genes

    target = inputs.scores or str(Path(config.output_dir or ".") / "scores")
    log.warning("%d selected genes lack scores: running the base model (--run-workflow implied) into %s",
                len(missing), target)
    score_genes(genome, genes.filter(pl.col("gene_id").is_in(missing)), config.model, target,
                progress=config.run.progress)
    return replace(inputs, scores=target)
