"""The one coordinate convention, in one place.

* Genomic positions are **1-based, inclusive** (``position`` columns, gene ``start``/``end``).
* A gene's sequence array (from :meth:`fastbuild.genome.Genome.fetch`) is in **transcript
  orientation**: offset 0 is the gene's 5' end, i.e. ``start`` on the plus strand and ``end``
  on the minus strand. ``rel_position`` columns hold these 0-based offsets.
* Splice sites sit on the exon-side base (SpliceAI's convention): a donor is the last exonic
  base before an intron, an acceptor the first exonic base after one, in transcript
  orientation.

Every conversion between genomic positions and offsets goes through the two functions below.
"""

from __future__ import annotations

import numpy as np


def to_offset(position, start: int, end: int, strand: str):
    """Genomic 1-based position(s) -> 0-based offset(s) in transcript orientation.

    Parameters
    ----------
    position : int or array of int
        1-based genomic positions inside ``start..end``.
    start, end : int
        The interval (1-based, inclusive) whose oriented sequence the offsets index.
    strand : {'+', '-'}
    """
    position = np.asarray(position, dtype=np.int64)
    return position - start if strand == "+" else end - position


def to_genomic(offset, start: int, end: int, strand: str):
    """0-based offset(s) in transcript orientation -> 1-based genomic position(s)."""
    offset = np.asarray(offset, dtype=np.int64)
    return start + offset if strand == "+" else end - offset


def orient(values, strand: str):
    """Genomic-order values (ascending position) -> transcript orientation (contiguous)."""
    values = np.asarray(values)
    return np.ascontiguousarray(values[::-1]) if strand == "-" else values
