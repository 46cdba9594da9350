"""Build outputs besides the batch files: gene_manifest.csv, build_info.json, BUILD_INFO.md."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fastbuild._version import __version__
from fastbuild.builder.schema import FORMAT_VERSION, PRED_TYPES, SPLICE_TYPES
from fastbuild.builder.stats import BatchStats, class_counts, stage_timings
from fastbuild.builder.writer import master_name

if TYPE_CHECKING:
    from fastbuild.builder.plan import BuildPlan

MANIFEST_COLUMNS = ["global_index", "gene_id", "gene_name", "gene_type", "chrom", "strand",
                    "gene_length", "start", "end", "total_splice_sites", "donor_sites",
                    "acceptor_sites", "splice_density_per_kb", "file_index", "file_name", "n_rows"]


def library_versions() -> dict:
    out = {"python": platform.python_version(), "fastbuild": __version__}
    for dist in ("numpy", "numba", "pyarrow", "polars", "pyfaidx"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[dist] = None
    return out


def manifest(genes: pl.DataFrame, batch_stats: list[BatchStats]) -> pl.DataFrame:
    """The reference's gene manifest, plus n_rows, in build order."""
    rows = [(g.gene_id, st.index, master_name(st.index), g.rows) for st in batch_stats for g in st.genes]
    where = pl.DataFrame(rows, schema={"gene_id": pl.Utf8, "file_index": pl.Int64,
                                       "file_name": pl.Utf8, "n_rows": pl.Int64}, orient="row")
    return where.with_row_index("global_index").join(genes, on="gene_id", how="left").select(
        "global_index", "gene_id", "gene_name", "gene_type", "chrom", "strand", "gene_length",
        "start", "end", pl.col("n_splice_sites").alias("total_splice_sites"), "donor_sites",
        "acceptor_sites", "splice_density_per_kb", "file_index", "file_name", "n_rows",
    ).sort("global_index")


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {}
    return {"min": float(v.min()), "median": float(np.median(v)), "mean": float(v.mean()), "max": float(v.max())}


def build_info(plan: BuildPlan, batch_stats: list[BatchStats], timings: dict, resumed: int) -> dict:
    """The content of build_info.json."""
    config, selection, genes_sel = plan.config, plan.selection, plan.genes
    rows = sum(st.rows for st in batch_stats)
    positions = sum(st.positions for st in batch_stats)
    return {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config.to_dict(),
        "config_hash": plan.config_hash,
        "inputs": asdict(plan.inputs),
        "input_checksums": plan.fingerprints,
        "scores": _score_info(plan.inputs.scores),
        "libraries": library_versions(),
        "seed": config.selection.seed,
        "mode": "evaluation (every position kept)" if config.eval_mode else "training (downsampled; see sample_weight)",
        "eval_mode": config.eval_mode,
        "split": _split_counts(config, genes_sel),
        "gene_clusters": genes_sel["gene_cluster"].n_unique() if "gene_cluster" in genes_sel.columns else None,
        "genes": genes_sel.height,
        "positions_scanned": positions,
        "rows": rows,
        "batches": len(batch_stats),
        "batches_resumed": resumed,
        "counts": class_counts(batch_stats),
        "gene_types": dict(sorted(genes_sel.group_by("gene_type").len().iter_rows())),
        "gene_length": _stats(genes_sel["gene_length"].to_numpy()),
        "splice_density_per_kb": _stats(genes_sel["splice_density_per_kb"].to_numpy()),
        "selection": {
            "policy": selection.policy, "extras": len(selection.extras),
            "unresolved_ids": selection.unresolved, "dropped_by_gene_type": selection.dropped_by_type,
            "notes": selection.notes,
        },
        "timings_s": timings,
        "stage_timings": stage_timings(batch_stats),
    }


def _score_info(scores: str | None) -> dict | None:
    """Model and precision of the score store the build read."""
    if not scores or not Path(scores).exists():
        return None
    from fastbuild.basemodel.store import ScoreStore

    store = ScoreStore(scores)
    return {"model": store.model_identity.get("name"), "precision": store.precision}


def _split_counts(config, genes: pl.DataFrame) -> dict:
    """The split spec and genes per split."""
    if "split" not in genes.columns or config.split == "none":
        return {"spec": config.split}
    counts = genes.group_by("split").len().sort("split", nulls_last=True)
    return {"spec": config.split, "genes": {str(k): int(n) for k, n in counts.iter_rows()}}


def build_info_markdown(info: dict) -> str:
    c = info["counts"]
    cfg = info["config"]
    lines = [
        "# fastbuild dataset",
        "",
        f"Built {info['created']} by fastbuild {info['libraries']['fastbuild']} "
        f"(format {info['format_version']}, config hash `{info['config_hash'][:16]}`).",
        "",
        f"- genes: {info['genes']} (policy `{info['selection']['policy']}`, seed {info['seed']})",
        f"- positions scanned: {info['positions_scanned']:,}; "
        f"rows kept: {info['rows']:,} in {info['batches']} batch files",
        f"- k-mer sizes: {cfg['kmer_sizes']} ({cfg['kmer_layout']} layout); context flank {cfg['context_flank']}",
        f"- labels: threshold {cfg['threshold']}, consensus window ±{cfg['consensus_window']}; "
        f"downsampling: hard prob {cfg['hard_prob']}, window {cfg['window']}, easy ratio {cfg['easy_ratio']}",
        f"- position ids: {cfg['position_id_mode']}",
        "",
        "## Rows by label",
        "",
        "| pred_type | " + " | ".join(SPLICE_TYPES) + " | total |",
        "|---|" + "---|" * (len(SPLICE_TYPES) + 1),
    ]
    for p in PRED_TYPES:
        row = c["pred_type_x_splice_type"][p]
        lines.append(f"| {p} | " + " | ".join(f"{row[s]:,}" for s in SPLICE_TYPES) + f" | {c['pred_type'][p]:,} |")
    lines += [
        "",
        "## Reading it",
        "",
        "```python",
        "import polars as pl",
        "df = pl.scan_parquet('master/*.parquet')",
        "```",
        "",
        "Columns carry a role in the schema metadata (`fastbuild.roles`): drop `id`, `label` and",
        "`leaky` columns before training; the target is `y` (0 neither, 1 donor, 2 acceptor).",
        "",
        "## Gene types",
        "",
    ]
    lines += [f"- {t}: {n}" for t, n in info["gene_types"].items()]
    lines += ["", "## Timings (s)", ""] + [f"- {k}: {v:.2f}" for k, v in info["timings_s"].items()]
    stages = info.get("stage_timings") or {}
    if stages.get("rows"):
        lines += ["", f"## Stages (µs per kept row; {stages['rows']:,} rows, {stages['batches']} batch file(s))", ""]
        lines += [f"- {k}: {v:.3f}" for k, v in stages["us_per_row"].items()]
    return "\n".join(lines) + "\n"


def summary_lines(info: dict, out: Path | None) -> str:
    c = info["counts"]["pred_type"]
    t = info["timings_s"].get("total", 0.0)
    rate = info["genes"] / t * 3600 if t else 0.0
    where = f" in {out}" if out else ""
    return (
        f"built {info['rows']:,} rows from {info['genes']} genes ({info['positions_scanned']:,} positions) "
        f"in {info['batches']} batches{where}\n"
        f"rows by pred_type: " + ", ".join(f"{k} {v:,}" for k, v in c.items()) + "\n"
        "rows by splice_type: " + ", ".join(f"{k} {v:,}" for k, v in info["counts"]["splice_type"].items()) + "\n"
        f"{t:.1f} s total ({rate:,.0f} genes/hour), {info['batches_resumed']} batches resumed"
    )
