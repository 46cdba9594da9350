"""The report's figures, each drawn from :class:`~fastbuild.report.facts.DatasetFacts` (or why not).

Every figure has a fixed element id (:data:`FIGURE_IDS`), so a reader (or a test) finds it in the
page; a statistic the build did not record gives a :class:`Figure` without SVG and a note saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from fastbuild.builder.schema import PRED_TYPES, ROLES, SPLICE_TYPES
from fastbuild.report import svg
from fastbuild.report.facts import SCORE_BINS, SCORED, DatasetFacts

#: Labels in the order a reader expects them (errors first, the many true negatives last).
SHOWN_PRED = ("TP", "FP", "FN", "TN")
ERRORS = ("TP", "FP", "FN")
MAX_GENE_TYPES = 12
NOT_RECORDED = "not recorded by this build (built by a fastbuild version that did not gather it; rebuild to add it)"
NO_MANIFEST = "not recorded: the build wrote no gene_manifest.csv (--no-manifest)"


@dataclass(frozen=True)
class Figure:
    """One plot: its element id, its SVG (None when the statistic is absent) and a caption or why it is absent."""

    plot_id: str
    svg: str | None
    note: str


def labels(facts: DatasetFacts) -> Figure:
    c = facts.counts()
    series = {s: [int(c[PRED_TYPES.index(p), j]) for p in SHOWN_PRED] for j, s in enumerate(SPLICE_TYPES)}
    return Figure("plot-labels", svg.bar_chart("plot-labels", "Rows by pred_type and splice_type", list(SHOWN_PRED),
                                               series, log=True),
                  "Kept rows: every TP, FP and FN; true negatives as sampled (see the strata).")


def strata(facts: DatasetFacts) -> Figure:
    st = facts.strata()
    if st is None:
        why = ("not applicable: an evaluation-mode build keeps every position (no sampling)"
               if facts.info.get("eval_mode") else NOT_RECORDED)
        return Figure("plot-strata", None, why)
    names = list(st)
    series = {"positions": [st[n][0] for n in names], "rows": [st[n][1] for n in names]}
    return Figure("plot-strata", svg.bar_chart("plot-strata", "Positions scanned and rows kept by sampling stratum",
                                               names, series, log=True, ylabel="count"),
                  "non_tn: TP/FP/FN; hard: high-scoring or locally peaking true negatives; near_site: true "
                  "negatives near an annotated site (all kept); easy: the rest, sampled.")


def scores(facts: DatasetFacts) -> list[Figure]:
    hist = facts.score_hist()
    if hist is None:
        return [Figure(f"plot-scores-{c}", None, NOT_RECORDED) for c in SCORED]
    edges = [i / SCORE_BINS for i in range(SCORE_BINS + 1)]
    ticks = [(v, f"{v:g}") for v in (0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    out = []
    for i, channel in enumerate(SCORED):
        series = {}
        for p in SHOWN_PRED:
            counts = hist[i, PRED_TYPES.index(p)]
            if counts.sum():
                series[p] = (counts / counts.sum()).tolist()
        out.append(Figure(f"plot-scores-{channel}", svg.histogram(
            f"plot-scores-{channel}", f"Base model's {channel} score by pred_type", edges, series, log=True,
            xlabel=f"{channel}_score ({SCORE_BINS} bins)", ylabel="share of the pred_type's rows", xticks=ticks),
            f"Each line: the share of a pred_type's kept rows in each {channel}-score bin."))
    return out


def gene_types(facts: DatasetFacts) -> Figure:
    if facts.manifest is None:
        return Figure("plot-gene-types", None, NO_MANIFEST)
    table = gene_type_table(facts)
    if not facts.gene_counts_recorded():
        return Figure("plot-gene-types", svg.bar_chart(
            "plot-gene-types", "Genes by gene type", table["gene_type"].to_list(), {"genes": table["genes"].to_list()},
            ylabel="genes"), f"Per-gene labels {NOT_RECORDED}.")
    series = {p: table[p].to_list() for p in SHOWN_PRED}
    return Figure("plot-gene-types", svg.bar_chart("plot-gene-types", "Rows by gene type and pred_type",
                                                   table["gene_type"].to_list(), series, log=True),
                  f"The {MAX_GENE_TYPES} gene types with most genes.")


def gene_type_table(facts: DatasetFacts) -> pl.DataFrame:
    """Per gene type: genes, rows, rows by pred_type (where recorded), median length and splice density."""
    genes = facts.genes().with_columns(pl.col("gene_type").fill_null("unknown"))
    extra = [pl.col(p).sum() for p in PRED_TYPES] if facts.gene_counts_recorded() else []
    return (genes.group_by("gene_type").agg(pl.len().alias("genes"), pl.col("rows").sum(), *extra,
                                            pl.col("gene_length").median().alias("median_length"),
                                            pl.col("splice_density_per_kb").median().alias("median_density"))
            .sort(["genes", "gene_type"], descending=[True, False]).head(MAX_GENE_TYPES))


def errors_per_gene(facts: DatasetFacts) -> Figure:
    if not facts.gene_counts_recorded():
        return Figure("plot-errors-per-gene", None, NOT_RECORDED)
    genes = facts.genes()
    top = max(1, max(int(genes[p].max() or 0) for p in ERRORS))
    width = max(1, math.ceil((top + 1) / 40))
    edges = list(range(0, top + width + 1, width))
    series = {p: np.bincount(genes[p].to_numpy() // width, minlength=len(edges) - 1).tolist() for p in ERRORS}
    return Figure("plot-errors-per-gene", svg.histogram(
        "plot-errors-per-gene", "TP, FP and FN per gene", edges, series, log=True,
        xlabel=f"rows of the label in a gene (bins of {width})", ylabel="genes"),
        "How the base model's hits and errors spread over genes: a long tail means a few genes hold most errors.")


def gene_length(facts: DatasetFacts) -> Figure:
    if facts.manifest is None:
        return Figure("plot-gene-length", None, NO_MANIFEST)
    values = facts.manifest["gene_length"].drop_nulls().to_numpy().astype(float)
    values = values[values > 0]
    if values.size == 0:
        return Figure("plot-gene-length", None, "no gene lengths in the manifest")
    lo, hi = math.floor(math.log10(values.min())), max(math.ceil(math.log10(values.max())), 1)
    hi = hi + 1 if hi == lo else hi
    edges = [lo + i / 10 for i in range(10 * (hi - lo) + 1)]
    counts = np.histogram(np.log10(values), bins=edges)[0].tolist()
    ticks = [(float(e), svg.number(10.0 ** e)) for e in range(lo, hi + 1)]
    return Figure("plot-gene-length", svg.histogram("plot-gene-length", "Gene length", edges, {"genes": counts},
                                                    xlabel="gene length (nt, log scale)", ylabel="genes",
                                                    xticks=ticks),
                  f"{values.size:,} genes; median {np.median(values):,.0f} nt.")


def splice_density(facts: DatasetFacts) -> Figure:
    if facts.manifest is None:
        return Figure("plot-splice-density", None, NO_MANIFEST)
    values = facts.manifest["splice_density_per_kb"].drop_nulls().to_numpy().astype(float)
    if values.size == 0:
        return Figure("plot-splice-density", None, "no splice densities in the manifest")
    top = svg.Scale.fit([values.max()], log=False).hi
    edges = [top * i / 30 for i in range(31)]
    counts = np.histogram(values, bins=edges)[0].tolist()
    return Figure("plot-splice-density", svg.histogram(
        "plot-splice-density", "Splice-site density", edges, {"genes": counts},
        xlabel="annotated splice sites per kb of gene", ylabel="genes"),
        f"median {np.median(values):.2f} sites per kb; genes without sites: {int((values == 0).sum()):,}.")


def splits(facts: DatasetFacts) -> Figure:
    table = facts.splits()
    if table is None:
        return Figure("plot-splits", None, "no split: the build ran with --split none (the split column is null)")
    names = table["split"].to_list()
    if "TP" in table.columns:
        series = {p: table[p].to_list() for p in SHOWN_PRED}
        return Figure("plot-splits", svg.bar_chart("plot-splits", "Rows by split and pred_type", names, series,
                                                   log=True), "Whole gene clusters stay in one split.")
    return Figure("plot-splits", svg.bar_chart("plot-splits", "Genes by split", names,
                                               {"genes": table["genes"].to_list()}, ylabel="genes"),
                  f"Rows per split {NOT_RECORDED}.")


def roles(facts: DatasetFacts) -> Figure:
    found = [c[2] or "none" for c in facts.columns()]
    names = [r for r in ROLES if r in found] + sorted(set(found) - set(ROLES))
    return Figure("plot-roles", svg.bar_chart("plot-roles", "Columns by role", names,
                                              {"columns": [found.count(r) for r in names]}, ylabel="columns"),
                  "Train on the feature columns (and annotation, for annotated genes only); see the schema below.")


#: Every figure's id, in page order.
FIGURE_IDS = ("plot-labels", "plot-strata", *(f"plot-scores-{c}" for c in SCORED), "plot-gene-types",
              "plot-errors-per-gene", "plot-gene-length", "plot-splice-density", "plot-splits", "plot-roles")
