"""Per-strand values -> the bigWigs of ``--strands split`` or ``--strands collapse``.

fastbuild holds every value on a strand: a score store holds each gene's scores on the gene's
own strand, a dataset's rows carry their gene's strand. A bigWig has no strand, so:

* ``split`` writes one file per strand, ``NAME.plus.bw`` and ``NAME.minus.bw``: each position of
  a gene on that strand with the gene's value there (bases outside genes: no data);
* ``collapse`` writes one file, ``NAME.bw``: at each position the **maximum** over the strands
  (the **minimum** for ``neither``, where a low value is the interesting one), so a site on
  either strand shows.

Where two genes of one strand (or two transcripts of one gene) give one position two values,
the same rule picks one (maximum, minimum for ``neither``) and the position is counted as a
conflict. Genes of one strand scored by one model agree base for base (a base's score depends
only on the sequence around it), so a store exported with ``split`` has no conflict and reads
back exactly.
"""

from __future__ import annotations

import numpy as np

from fastbuild.tracks.bigwig import Runs, runs_of, write_bigwig

__all__ = ["STRAND_NAMES", "groups", "merge_values", "reducer", "strand_runs", "track_file", "write_strand_track"]

STRAND_NAMES = {"+": "plus", "-": "minus"}


def groups(mode: str) -> list[tuple[str | None, tuple[str, ...]]]:
    """The files of a strand mode: ``(strand or None, strands whose values it holds)``."""
    if mode == "collapse":
        return [(None, ("+", "-"))]
    return [("+", ("+",)), ("-", ("-",))]


def track_file(name: str, strand: str | None) -> str:
    """``donor.plus.bw``, ``donor.minus.bw`` or (strands collapsed) ``donor.bw``."""
    return f"{name}.bw" if strand is None else f"{name}.{STRAND_NAMES[strand]}.bw"


def reducer(name: str) -> str:
    """``min`` for ``neither`` (and names ending in ``neither``), else ``max``."""
    return "min" if name.endswith("neither") else "max"


def merge_values(parts: list[tuple[np.ndarray, np.ndarray]], how: str = "max") -> tuple[np.ndarray, np.ndarray, int]:
    """One value per position from ``(positions, values)`` parts, and the number of conflicts.

    Parameters
    ----------
    parts : list of (array of int, array of float)
        1-based positions and their values; in any order, positions may repeat.
    how : {'max', 'min'}
        Which of several values at one position to keep (NaN values are no data).

    Returns
    -------
    (array of int64, array of float32, int)
        Ascending unique positions, their values, and the number of positions given different values.
    """
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), 0
    pos = np.concatenate([np.asarray(p, dtype=np.int64) for p, _ in parts])
    val = np.concatenate([np.asarray(v, dtype=np.float32) for _, v in parts])
    keep = ~np.isnan(val)
    pos, val = pos[keep], val[keep]
    order = np.argsort(pos, kind="stable")
    pos, val = pos[order], val[order]
    first = np.flatnonzero(np.concatenate([[True], np.diff(pos) != 0])) if pos.size else np.zeros(0, np.int64)
    if first.size == pos.size:
        return pos, val, 0
    hi = np.maximum.reduceat(val, first)
    lo = np.minimum.reduceat(val, first)
    return pos[first], hi if how == "max" else lo, int(np.count_nonzero(hi != lo))


def strand_runs(by_strand: dict[str, tuple[np.ndarray, np.ndarray]], how: str) -> tuple[Runs, int]:
    """The runs of one contig of one file from its strands' ``(positions, values)``.

    Values of one strand are merged first (their disagreements are the conflicts counted), then
    the strands of a collapsed file (where values differ by nature, not counted).
    """
    merged, conflicts = [], 0
    for pos, val in by_strand.values():
        p, v, found = merge_values([(pos, val)], how)
        merged.append((p, v))
        conflicts += found
    if len(merged) > 1:
        p, v, _ = merge_values(merged, how)
    elif merged:
        p, v = merged[0]
    else:
        p, v = np.zeros(0, np.int64), np.zeros(0, np.float32)
    return runs_of(p, v), conflicts


def write_strand_track(path, sizes: dict[str, int], by_contig: dict, name: str, load) -> tuple[int, int]:
    """Write the bigWig of values ``name`` from rows grouped by FASTA contig, one contig at a time.

    ``by_contig``: contig -> rows with a ``strand`` column; ``load(rows_of_one_strand)`` gives
    their (positions, values). The strands of a position are merged by :func:`strand_runs` with
    :func:`reducer` of ``name``. Returns (intervals written, positions whose strands disagreed).
    """
    conflicts = 0

    def runs_for(contig):
        nonlocal conflicts
        part = by_contig.get(contig)
        if part is None:
            return None
        by_strand = {s: load(rows) for (s,), rows in part.group_by(["strand"], maintain_order=True)}
        runs, found = strand_runs(by_strand, reducer(name))
        conflicts += found
        return runs

    return write_bigwig(path, sizes, runs_for), conflicts
