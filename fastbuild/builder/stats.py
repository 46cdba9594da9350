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
#: Kept rows' base-model scores are counted in this many equal bins of [0, 1], by pred_type, for
#: each of :data:`SCORED` (the dataset report's score distributions; cheap: one bincount per gene).
SCORE_BINS = 50
SCORED = ("donor", "acceptor")


def empty_counts() -> np.ndarray:
    """Zero counts shaped [pred_type, splice_type]."""
    return np.zeros((len(PRED_TYPES), len(SPLICE_TYPES)), np.int64)


def empty_score_hist() -> np.ndarray:
    """Zero counts shaped [scored channel (SCORED), pred_type, score bin (SCORE_BINS)]."""
    return np.zeros((len(SCORED), len(PRED_TYPES), SCORE_BINS), np.int64)


@dataclass
class GeneTally:
    """Counts of one gene's positions and kept rows, by label (filled while its rows are made)."""

    positions: int = 0
    rows: int = 0
    counts: np.ndarray = field(default_factory=empty_counts)  # kept rows by [pred_type, splice_type]
    seconds: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))  # by stage (see STAGES)
    split: str | None = None  # the gene's split (--split), for rows per split
    score_hist: np.ndarray = field(default_factory=empty_score_hist)  # kept rows' scores (empty_score_hist)
    strata: dict = field(default_factory=dict)  # sampling stratum -> [positions, kept rows] (none in eval mode)

    def add_scores(self, pred: np.ndarray, scores: tuple[np.ndarray, ...]) -> None:
        """Count kept rows' scores (one array per :data:`SCORED` channel) by pred_type code and score bin."""
        base = pred.astype(np.int64) * SCORE_BINS
        size = len(PRED_TYPES) * SCORE_BINS
        for i, values in enumerate(scores):
            bins = np.fmin(np.fmax(values * SCORE_BINS, 0), SCORE_BINS - 1).astype(np.int64)  # fmax: NaN -> 0
            self.score_hist[i] += np.bincount(base + bins, minlength=size).reshape(len(PRED_TYPES), SCORE_BINS)

    def add_strata(self, names: tuple[str, ...], stratum: np.ndarray, kept: np.ndarray) -> None:
        """Count positions and kept rows by sampling stratum (``stratum``: codes into ``names``)."""
        positions = np.bincount(stratum, minlength=len(names))
        rows = np.bincount(stratum[kept], minlength=len(names))
        for j, name in enumerate(names):
            old = self.strata.get(name, (0, 0))
            self.strata[name] = (old[0] + int(positions[j]), old[1] + int(rows[j]))


@dataclass(frozen=True)
class GeneStats:
    """One gene of a batch: its kept rows and scanned positions (and, since 2026-12, its kept rows by
    [pred_type][splice_type] and its split; ``()`` / None in batch files written before)."""

    gene_id: str
    rows: int
    positions: int
    counts: tuple = ()
    split: str | None = None


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
    score_hist : tuple
        Kept rows by [scored channel (:data:`SCORED`)][pred_type][score bin (:data:`SCORE_BINS`)];
        empty for a batch file written before these were recorded.
    strata : tuple of (str, int, int)
        ``(stratum, positions, kept rows)`` per sampling stratum; empty in evaluation mode (no
        sampling) and for batch files written before these were recorded.
    """

    index: int
    config_hash: str
    rows: int
    positions: int
    counts: tuple
    genes: tuple[GeneStats, ...]
    seconds: float = 0.0
    stage_seconds: tuple[float, ...] = ()
    score_hist: tuple = ()
    strata: tuple = ()

    @classmethod
    def collect(cls, index: int, config_hash: str, tallies: list[tuple[str, GeneTally]],
                seconds: float, extra: dict | None = None) -> BatchStats:
        """Statistics of a batch from the tallies of its genes (``extra``: stage seconds outside any gene)."""
        counts = sum((t.counts for _, t in tallies), empty_counts())
        extra = extra or {}
        stages = tuple(round(sum(t.seconds[s] for _, t in tallies) + extra.get(s, 0.0), 6) for s in STAGES)
        hist = sum((t.score_hist for _, t in tallies), empty_score_hist())
        strata: dict = {}
        for _, t in tallies:
            for name, (p, r) in t.strata.items():
                old = strata.get(name, (0, 0))
                strata[name] = (old[0] + p, old[1] + r)
        genes = tuple(GeneStats(g, t.rows, t.positions, tuple(t.counts.ravel().tolist()), t.split) for g, t in tallies)
        return cls(index, config_hash, sum(t.rows for _, t in tallies), sum(t.positions for _, t in tallies),
                   tuple(map(tuple, counts.tolist())), genes, round(seconds, 3), stages,
                   _nested_tuple(hist.tolist()), tuple((k, p, r) for k, (p, r) in strata.items()))

    def counts_array(self) -> np.ndarray:
        return np.asarray(self.counts, np.int64).reshape(len(PRED_TYPES), len(SPLICE_TYPES))

    def to_json(self) -> str:
        """Compact JSON (genes as ``[gene_id, rows, positions]`` triples, stage seconds by name; the
        genes' counts and splits, the score histograms and the strata under keys of their own, which
        readers of older versions ignore)."""
        stages = dict(zip(STAGES, self.stage_seconds, strict=True)) if self.stage_seconds else {}
        d = {"index": self.index, "config_hash": self.config_hash, "rows": self.rows,
             "positions": self.positions, "counts": [list(r) for r in self.counts],
             "genes": [[g.gene_id, g.rows, g.positions] for g in self.genes],
             "seconds": self.seconds, "stage_seconds": stages}
        if self.genes and all(g.counts for g in self.genes):
            d["gene_counts"] = [list(g.counts) for g in self.genes]
        if any(g.split is not None for g in self.genes):
            d["gene_splits"] = [g.split for g in self.genes]
        if self.score_hist:
            d["score_hist"] = {"bins": SCORE_BINS, **{c: [list(r) for r in h] for c, h in zip(SCORED, self.score_hist,
                                                                                              strict=True)}}
        if self.strata:
            d["strata"] = {name: [p, r] for name, p, r in self.strata}
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchStats:
        d = json.loads(text)
        stages = d.get("stage_seconds") or {}
        n = len(d["genes"])
        counts = d.get("gene_counts") or [()] * n
        splits = d.get("gene_splits") or [None] * n
        genes = tuple(GeneStats(str(g), int(r), int(p), tuple(int(v) for v in c), s)
                      for (g, r, p), c, s in zip(d["genes"], counts, splits, strict=True))
        hist = d.get("score_hist") or {}
        score_hist = (_nested_tuple([hist[c] for c in SCORED])
                      if hist.get("bins") == SCORE_BINS and all(c in hist for c in SCORED) else ())
        return cls(int(d["index"]), d["config_hash"], int(d["rows"]), int(d["positions"]),
                   tuple(tuple(int(v) for v in r) for r in d["counts"]), genes, float(d.get("seconds", 0.0)),
                   tuple(float(stages.get(s, 0.0)) for s in STAGES) if stages else (), score_hist,
                   tuple((str(k), int(p), int(r)) for k, (p, r) in (d.get("strata") or {}).items()))


def _nested_tuple(values):
    """Nested lists of numbers as nested tuples of ints (frozen statistics)."""
    return tuple(_nested_tuple(v) for v in values) if isinstance(values, list) else int(values)


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
