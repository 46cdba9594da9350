"""Base composition in a window around positions: GC content and Shannon entropy."""

from __future__ import annotations

import numpy as np

from ._validate import as_codes, as_int, as_positions
from .kmers import _MAX_COUNT, _run

__all__ = ["gc_content", "sequence_complexity"]


def _base_counts(codes, positions, left, right):
    """uint16 [4, m] A/C/G/T counts per window: the k-mer kernel with k = 1 (one compiled
    kernel fewer; windows are limited to 65535 nt like kmer_counts)."""
    return _run(codes, 1, positions, left, right, False)


def _prepare(codes, positions, left, right):
    codes = as_codes(codes)
    left = as_int(left, "left", 0)
    right = as_int(right, "right", 0)
    if left + right + 1 > _MAX_COUNT:
        raise ValueError(f"window too long: left + right + 1 = {left + right + 1} > {_MAX_COUNT}")
    positions = as_positions(positions, codes.shape[0])
    return codes, positions, left, right


def gc_content(codes, positions, left=250, right=249) -> np.ndarray:
    """GC fraction of the window around each position.

    Parameters
    ----------
    codes : numpy.ndarray of uint8, shape (n,)
        Codes 0..4 (see :func:`kernels.encode`).
    positions : array_like of int, shape (m,)
        0-based offsets in ``[0, n)``, any order.
    left, right : int, optional
        Window ``codes[max(0, p - left) : min(n, p + right + 1)]`` as in
        :func:`kernels.kmer_counts`.

    Returns
    -------
    numpy.ndarray of float32, shape (m,)
        ``(G + C) / (A + C + G + T)`` in the window: N (code 4) is excluded from numerator
        and denominator; 0 when the window holds no A/C/G/T.
    """
    counts = _base_counts(*_prepare(codes, positions, left, right)).astype(np.float64)
    total = counts.sum(axis=0)
    gc = counts[1] + counts[2]
    np.divide(gc, total, out=gc, where=total > 0)
    return gc.astype(np.float32)


def sequence_complexity(codes, positions, left=250, right=249) -> np.ndarray:
    """Shannon entropy (bits) of the base composition of the window around each position.

    Parameters and windows as in :func:`gc_content`.

    Returns
    -------
    numpy.ndarray of float32, shape (m,)
        ``-sum f log2 f`` over the frequencies ``f`` of A, C, G, T among the A/C/G/T bases
        of the window (N excluded; terms with ``f = 0`` contribute 0), in ``[0, 2]``; 0 when
        the window holds no A/C/G/T.
    """
    counts = _base_counts(*_prepare(codes, positions, left, right)).astype(np.float64)
    total = counts.sum(axis=0)
    freq = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    logf = np.log2(freq, out=np.zeros_like(freq), where=freq > 0)
    h = -(freq * logf).sum(axis=0)
    return (h + 0.0).astype(np.float32)  # + 0.0 turns -0.0 into 0.0
