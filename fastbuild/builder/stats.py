"""Typed statistics of a batch: kept rows and scanned positions, per gene and by label.

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


def empty_counts() -> np.ndarray:
    """Zero counts shaped [pred_type, splice_type]."""
    return np.zeros((len(PRED_TYPES), len(SPLICE_TYPES)), np.int64)


@dataclass
class GeneTally:
    """Counts of one gene's positions and kept rows, by label (filled while its rows are made)."""

    positions: int = 0
    rows: int = 0
    counts: np.ndarray = field(default_factory=empty_counts)  # kept rows by [pred_type, splice_type]


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
    """

    index: int
    config_hash: str
    rows: int
    positions: int
    counts: tuple
    genes: tuple[GeneStats, ...]
    seconds: float = 0.0

    @classmethod
    def collect(cls, index: int, config_hash: str, tallies: list[tuple[str, GeneTally]],
                seconds: float) -> BatchStats:
        """Statistics of a batch from the tallies of its genes."""
        counts = sum((t.counts for _, t in tallies), empty_counts())
        return cls(index, config_hash, sum(t.rows for _, t in tallies), sum(t.positions for _, t in tallies),
                   tuple(map(tuple, counts.tolist())),
                   tuple(GeneStats(g, t.rows, t.positions) for g, t in tallies), round(seconds, 3))

    def counts_array(self) -> np.ndarray:
        return np.asarray(self.counts, np.int64).reshape(len(PRED_TYPES), len(SPLICE_TYPES))

    def to_json(self) -> str:
        """Compact JSON (genes as ``[gene_id, rows, positions]`` triples)."""
        return json.dumps({"index": self.index, "config_hash": self.config_hash, "rows": self.rows,
                           "positions": self.positions, "counts": [list(r) for r in self.counts],
                           "genes": [[g.gene_id, g.rows, g.positions] for g in self.genes],
                           "seconds": self.seconds})

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchStats:
        d = json.loads(text)
        return cls(int(d["index"]), d["config_hash"], int(d["rows"]), int(d["positions"]),
                   tuple(tuple(int(v) for v in r) for r in d["counts"]),
                   tuple(GeneStats(str(g), int(r), int(p)) for g, r, p in d["genes"]), float(d.get("seconds", 0.0)))


def class_counts(batches: list[BatchStats]) -> dict:
    """Kept rows by pred_type, by splice_type and by both, over ``batches``."""
    total = sum((b.counts_array() for b in batches), empty_counts())
    return {
        "pred_type": {p: int(total[i].sum()) for i, p in enumerate(PRED_TYPES)},
        "splice_type": {s: int(total[:, j].sum()) for j, s in enumerate(SPLICE_TYPES)},
        "pred_type_x_splice_type": {p: {s: int(total[i, j]) for j, s in enumerate(SPLICE_TYPES)}
                                    for i, p in enumerate(PRED_TYPES)},
    }
