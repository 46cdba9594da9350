"""What a dataset report shows, gathered from what a build records (never by rereading its rows).

Sources: ``build_info.json`` (configuration, counts, genes per split, timings), ``gene_manifest.csv``
(gene types, lengths, splice density), the batch files' footer statistics
(:class:`~fastbuild.builder.stats.BatchStats`: per-gene counts and splits, score histograms,
sampling strata) and the schema of the first batch file (columns, roles, sources, drop lists).
A statistic a build did not record (an older build, ``--no-manifest``, evaluation mode) is None,
and the report says so.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.builder.output import INFO_FILE, MANIFEST_FILE, MASTER, require_finished
from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES
from fastbuild.builder.stats import SCORE_BINS, SCORED, BatchStats, empty_counts
from fastbuild.builder.writer import read_footer
from fastbuild.errors import FastbuildError

__all__ = ["SCORED", "SCORE_BINS", "SPLICE_TYPES", "DatasetFacts", "facts_from_build", "facts_from_folder"]


@dataclass(frozen=True)
class DatasetFacts:
    """Everything a report draws, for one finished build.

    Attributes
    ----------
    name : str
        The dataset's folder name.
    info : dict
        The content of ``build_info.json``.
    batches : tuple of BatchStats
        The footer statistics of every batch file, in order.
    manifest : polars.DataFrame or None
        ``gene_manifest.csv`` (None when the build wrote none).
    schema : pyarrow.Schema
        The batch files' schema, with its role metadata.
    """

    name: str
    info: dict
    batches: tuple
    manifest: pl.DataFrame | None
    schema: pa.Schema

    # ------------------------------------------------------------------ labels
    def counts(self) -> np.ndarray:
        """Kept rows by [pred_type, splice_type] (PRED_TYPES x SPLICE_TYPES)."""
        return sum((b.counts_array() for b in self.batches), empty_counts())

    def strata(self) -> dict | None:
        """Sampling stratum -> (positions, kept rows), or None when not recorded (evaluation mode, older builds)."""
        if not self.batches or not all(b.strata for b in self.batches):
            return None
        out: dict = {}  # in the order the build recorded them (fastbuild_kernels.STRATA)
        for b in self.batches:
            for name, p, r in b.strata:
                old = out.get(name, (0, 0))
                out[name] = (old[0] + p, old[1] + r)
        return out

    def score_hist(self) -> np.ndarray | None:
        """Kept rows by [SCORED channel, pred_type, score bin], or None when not recorded."""
        if not self.batches or not all(b.score_hist for b in self.batches):
            return None
        return sum(np.asarray(b.score_hist, np.int64) for b in self.batches)

    # ------------------------------------------------------------------ genes
    def genes(self) -> pl.DataFrame:
        """One row per gene: gene_id, rows, positions, split and, where recorded, kept rows by pred_type
        (TN, TP, FP, FN) and the manifest's gene_type, gene_length and splice_density_per_kb
        (made once per report: the page and the card read it several times)."""
        return self._genes

    @functools.cached_property
    def _genes(self) -> pl.DataFrame:
        recorded = self.gene_counts_recorded()
        rows = []
        for b in self.batches:
            for g in b.genes:
                by_pred = np.asarray(g.counts, np.int64).reshape(len(PRED_TYPES), -1).sum(1) if recorded else None
                rows.append({"gene_id": g.gene_id, "rows": g.rows, "positions": g.positions, "split": g.split,
                             **{p: (int(by_pred[i]) if recorded else None) for i, p in enumerate(PRED_TYPES)}})
        schema = {"gene_id": pl.Utf8, "rows": pl.Int64, "positions": pl.Int64, "split": pl.Utf8,
                  **dict.fromkeys(PRED_TYPES, pl.Int64)}
        genes = pl.DataFrame(rows, schema=schema)
        if self.manifest is not None:
            genes = genes.join(self.manifest.select("gene_id", "gene_type", "gene_length", "splice_density_per_kb"),
                               on="gene_id", how="left", maintain_order="left")
        return genes

    def gene_counts_recorded(self) -> bool:
        return bool(self.batches) and all(g.counts for b in self.batches for g in b.genes)

    def splits(self) -> pl.DataFrame | None:
        """Genes and rows per split (rows by pred_type where recorded); None without ``--split``."""
        spec = (self.info.get("split") or {}).get("spec", "none")
        if spec == "none":
            return None
        genes = self.genes()
        if genes["split"].null_count() == genes.height:  # an older build: genes per split only
            per = (self.info.get("split") or {}).get("genes") or {}
            return pl.DataFrame({"split": list(per), "genes": list(per.values())},
                                schema={"split": pl.Utf8, "genes": pl.Int64})
        extra = [pl.col(p).sum() for p in PRED_TYPES] if self.gene_counts_recorded() else []
        return (genes.with_columns(pl.col("split").fill_null("unassigned"))
                .group_by("split").agg(pl.len().alias("genes"), pl.col("rows").sum(), *extra).sort("split"))

    # ------------------------------------------------------------------ schema
    def columns(self) -> list[tuple[str, str, str, str, str]]:
        """(name, type, role, source, description) of every column, in schema order."""
        out = []
        for f in self.schema:
            md = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
            out.append((f.name, str(f.type), md.get("fastbuild.role", ""), md.get("fastbuild.source", ""),
                        md.get("fastbuild.doc", "")))
        return out

    def schema_meta(self, key: str):
        """A JSON value of the schema metadata (``fastbuild.KEY``), or None."""
        raw = (self.schema.metadata or {}).get(f"fastbuild.{key}".encode())
        try:
            return json.loads(raw) if raw is not None else None
        except ValueError:
            return raw.decode(errors="replace")


def facts_from_build(out: Path, info: dict, manifest: pl.DataFrame | None, batches: list[BatchStats],
                     schema: pa.Schema) -> DatasetFacts:
    """The facts of a build being finalised (everything already in memory)."""
    return DatasetFacts(Path(out).name, info, tuple(batches), manifest, schema)


def facts_from_folder(folder: str | Path) -> DatasetFacts:
    """The facts of a finished dataset folder: reads build_info.json, the manifest, and each batch
    file's footer (not its rows).

    Raises
    ------
    FastbuildError
        When ``folder`` is not a finished fastbuild dataset, or a file it needs is unreadable.
    """
    out = Path(folder)
    require_finished(out)
    info = _read_json(out / INFO_FILE)
    files = sorted((out / MASTER).glob("batch_*.parquet"))
    if not files:
        raise FastbuildError(f"{out / MASTER} holds no batch files; rebuild the dataset")
    batches = []
    for path in files:
        stats, _ = read_footer(path)
        if stats is None:
            raise FastbuildError(f"{path} has no readable fastbuild statistics; run fastbuild validate {out}")
        batches.append(stats)
    try:
        schema = pq.read_schema(files[0])
    except Exception as exc:
        raise FastbuildError(f"cannot read the schema of {files[0]}: {exc}") from None
    return DatasetFacts(out.resolve().name, info, tuple(batches), _read_manifest(out / MANIFEST_FILE), schema)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FastbuildError(f"cannot read {path}: {exc}; rebuild the dataset or run fastbuild validate") from None
    if not isinstance(value, dict) or "counts" not in value:
        raise FastbuildError(f"{path} is not a fastbuild build_info.json; rebuild the dataset")
    return value


def _read_manifest(path: Path) -> pl.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pl.read_csv(path, schema_overrides={"gene_id": pl.Utf8, "gene_name": pl.Utf8, "gene_type": pl.Utf8,
                                                   "chrom": pl.Utf8, "gene_length": pl.Int64,
                                                   "splice_density_per_kb": pl.Float64})
    except Exception as exc:
        raise FastbuildError(f"cannot read {path}: {exc}; run fastbuild validate on the dataset") from None
