"""Typed statistics of a batch: kept rows and scanned positions, per gene and by label; stage timings.

A :class:`BatchStats` travels from the process that built a batch to the one that publishes the
dataset, and is stored in the batch file's Parquet key-value metadata (:data:`STATS_KEY`), so a
resumed build reads it back instead of rebuilding the batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES

STATS_KEY = "fastbuild.batch_stats"
#: Stages of a build timed per gene (``time.perf_counter``), summed per batch: reading a gene's
#: scores and sequence, labelling and sampling its positions, making the columns of its kept rows,
#: and turning them into Arrow record batches written to Parquet.
STAGES = ("read", "label", "featurise", "write")


def empty_counts() -> np.ndarray:
    """Zero counts shaped [pred_type, splice_type]."""
    return np.zeros((len(PRED_TYPES), len(SPLICE_TYPES)), np.int64)


@dataclass
class GeneTally:
    """Counts of one gene's positions and kept rows, by label (filled while its rows are made)."""

    positions: int = 0
    rows: int = 0
    counts: np.ndarray = field(default_factory=empty_counts)  # kept rows by [pred_type, splice_type]
    seconds: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))  # by stage (see STAGES)


@dataclass(frozen=True)
class GeneStats:
    """One gene of a batch: its kept rows and scanned positions."""

    gene_id: str
    rows: int
    positions: int


@dataclass(frozen=True)
class BatchStats:
    """What one batch wrote.

    Attributes
    ----------
    index : int
        1-based batch number (the file ``batch_{index:05d}_trim.parquet``).
    config_hash : str
        Hash of the configuration that built it; a resume reuses the batch only when it matches.
    counts : tuple of tuple of int
        Kept rows by [pred_type][splice_type] (see :data:`~fastbuild.builder.schema.PRED_TYPES`).
    genes : tuple of GeneStats
        In the batch's (build) order.
    seconds : float
        Wall time of the batch, up to (not including) closing its file.
    stage_seconds : tuple of float
        Seconds spent in each of :data:`STAGES`, in that order, summed over the batch's genes
        (the last write includes flushing the batch's final rows); empty for a batch file
        written before stage timings were recorded.
    """

    index: int
    config_hash: str
    rows: int
    positions: int
    counts: tuple
    genes: tuple[GeneStats, ...]
    seconds: float = 0.0
    stage_seconds: tuple[float, ...] = ()

    @classmethod
    def collect(cls, index: int, config_hash: str, tallies: list[tuple[str, GeneTally]],
                seconds: float, extra: dict | None = None) -> BatchStats:
        """Statistics of a batch from the tallies of its genes (``extra``: stage seconds outside any gene)."""
        counts = sum((t.counts for _, t in tallies), empty_counts())
        extra = extra or {}
        stages = tuple(round(sum(t.seconds[s] for _, t in tallies) + extra.get(s, 0.0), 6) for s in STAGES)
        return cls(index, config_hash, sum(t.rows for _, t in tallies), sum(t.positions for _, t in tallies),
                   tuple(map(tuple, counts.tolist())),
                   tuple(GeneStats(g, t.rows, t.positions) for g, t in tallies), round(seconds, 3), stages)

    def counts_array(self) -> np.ndarray:
        return np.asarray(self.counts, np.int64).reshape(len(PRED_TYPES), len(SPLICE_TYPES))

    def to_json(self) -> str:
        """Compact JSON (genes as ``[gene_id, rows, positions]`` triples, stage seconds by name)."""
        stages = dict(zip(STAGES, self.stage_seconds, strict=True)) if self.stage_seconds else {}
        return json.dumps({"index": self.index, "config_hash": self.config_hash, "rows": self.rows,
                           "positions": self.positions, "counts": [list(r) for r in self.counts],
                           "genes": [[g.gene_id, g.rows, g.positions] for g in self.genes],
                           "seconds": self.seconds, "stage_seconds": stages})

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchStats:
        d = json.loads(text)
        stages = d.get("stage_seconds") or {}
        return cls(int(d["index"]), d["config_hash"], int(d["rows"]), int(d["positions"]),
                   tuple(tuple(int(v) for v in r) for r in d["counts"]),
                   tuple(GeneStats(str(g), int(r), int(p)) for g, r, p in d["genes"]), float(d.get("seconds", 0.0)),
                   tuple(float(stages.get(s, 0.0)) for s in STAGES) if stages else ())


def class_counts(batches: list[BatchStats]) -> dict:
    """Kept rows by pred_type, by splice_type and by both, over ``batches``."""
    total = sum((b.counts_array() for b in batches), empty_counts())
    return {
        "pred_type": {p: int(total[i].sum()) for i, p in enumerate(PRED_TYPES)},
        "splice_type": {s: int(total[:, j].sum()) for j, s in enumerate(SPLICE_TYPES)},
        "pred_type_x_splice_type": {p: {s: int(total[i, j]) for j, s in enumerate(SPLICE_TYPES)}
                                    for i, p in enumerate(PRED_TYPES)},
    }


def stage_timings(batches: list[BatchStats]) -> dict:
    """Seconds and microseconds per kept row of each stage (:data:`STAGES`), summed over ``batches``.

    Only batches that carry stage timings count (``batches``, ``rows``: how many, and their rows);
    ``other`` is the rest of their wall time (opening inputs, the schema, bookkeeping), ``total``
    their whole wall time.
    """
    timed = [b for b in batches if b.stage_seconds]
    seconds = {s: sum(b.stage_seconds[i] for b in timed) for i, s in enumerate(STAGES)}
    total = sum(b.seconds for b in timed)
    seconds["other"] = max(0.0, total - sum(seconds.values()))
    seconds["total"] = total
    rows = sum(b.rows for b in timed)
    return {"batches": len(timed), "rows": rows,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "us_per_row": {k: round(v * 1e6 / rows, 3) if rows else None for k, v in seconds.items()}}
