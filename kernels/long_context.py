"""Long-range score context: windowed sums and maxima of per-position scores at chosen positions."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_array, as_int, as_int64, as_positions

__all__ = ["long_context"]

_MAX_WIDTH = 1 << 32  # widths beyond any sequence; keeps p + w + 1 far from int64 overflow


@kernel
def _max2(a, b):
    """max(a, b) with NaN propagating (numpy's maximum)."""
    return a if (a > b or a != a) else b


@kernel
def _running_max(x, lo, hi, best):
    """max(best, x[lo:hi]), NaN propagating."""
    for q in range(lo, hi):
        best = _max2(x[q], best)
    return best


@kernel
def _block_maxima(x, g, size, pre, suf):
    """Van Herk / Gil-Werman: in blocks of ``size`` of x[:g], pre[i] = max(x[block start .. i]) and
    suf[i] = max(x[i .. block end]); then any window of ``size`` is max(suf[lo], pre[hi])."""
    for b0 in range(0, g, size):
        b1 = min(g, b0 + size)
        pre[b0] = x[b0]
        for i in range(b0 + 1, b1):
            pre[i] = _max2(x[i], pre[i - 1])
        suf[b1 - 1] = x[b1 - 1]
        for i in range(b1 - 2, b0 - 1, -1):
            suf[i] = _max2(x[i], suf[i + 1])


@kernel
def _long_context_kernel(scores, positions, widths, first, max_width, cum, pre, suf, out):
    """scores [t, n]; scratch: cum float64 [t, h + 1] (h = the last prefix needed), pre and suf
    [t, g] (g = the last index a maximum reads + 1); out float32 [t * (2 * len(widths) + 2), m]."""
    t_n = scores.shape[0]
    n = scores.shape[1]
    nw = widths.shape[0]
    per = 2 * nw + 2
    size = max_width - first + 1  # length of an unclipped max window
    for t in range(t_n):
        # prefix sums in float64, one sequential pass (numpy's cumsum(dtype=float64) does the same adds)
        c = 0.0
        cum[t, 0] = 0.0
        for i in range(cum.shape[1] - 1):
            c += np.float64(scores[t, i])
            cum[t, i + 1] = c
        _block_maxima(scores[t], pre.shape[1], size, pre[t], suf[t])
    for i in range(positions.shape[0]):
        p = positions[i]
        up_hi = max(0, p - first + 1)
        down_lo = min(n, p + first)
        for t in range(t_n):
            r = t * per
            for j in range(nw):
                w = widths[j]
                out[r + 2 * j, i] = np.float32(cum[t, up_hi] - cum[t, max(0, p - w)])
                out[r + 2 * j + 1, i] = np.float32(cum[t, min(n, p + w + 1)] - cum[t, down_lo])
            # maxima over [p - max_width, p - first] and [p + first, p + max_width]; a window passing
            # an array end includes 0 (offsets past the ends count as 0) and is scanned directly
            if p - max_width >= 0:
                out[r + per - 2, i] = np.float32(_max2(suf[t, p - max_width], pre[t, p - first]))
            else:
                out[r + per - 2, i] = np.float32(_running_max(scores[t], 0, up_hi, 0.0))
            if p + max_width < n:
                out[r + per - 1, i] = np.float32(_max2(suf[t, p + first], pre[t, p + max_width]))
            else:
                out[r + per - 1, i] = np.float32(_running_max(scores[t], down_lo, n, 0.0))


def _as_scores(scores) -> np.ndarray:
    """Real 2-D (t, n) array -> read-only C-contiguous float32 (if float32) or float64."""
    arr = as_array(scores, "scores")
    if arr.ndim != 2:
        raise ValueError(f"scores must be 2-D (t score arrays x n positions), got shape {arr.shape}")
    if arr.size == 0 and arr.dtype.kind not in "fiub":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"scores must be a real (float or integer) array, got dtype {arr.dtype}")
    return readonly_c(arr, np.float32 if arr.dtype == np.float32 else np.float64)


def long_context(scores, positions, widths, max_width, first: int = 3) -> np.ndarray:
    """Sums and maxima of scores over offsets ``first..W`` up- and downstream of each position.

    Parameters
    ----------
    scores : array_like of float, shape (t, n)
        ``t`` per-position score arrays of one sequence (e.g. donor and acceptor
        probabilities); a list of ``t`` 1-D arrays of length ``n`` is stacked (one copy).
        float32 stays float32, any other real dtype is used as float64.
    positions : array_like of int, shape (m,)
        0-based offsets in ``[0, n)``, any order, repeats allowed.
    widths : array_like of int, shape (w,)
        Widths ``W >= first`` of the sums.
    max_width : int
        Width of the maxima, ``>= first``.
    first : int, optional
        First offset counted on each side (default 3: the two nearest neighbours on each
        side are left out), ``>= 1``.

    Returns
    -------
    numpy.ndarray of float32, shape (t * (2 * w + 2), m)
        C-contiguous; for score array ``s`` (``s = 0..t-1``) rows ``s * (2 * w + 2) + ...``:
        ``2 * j`` -- sum up to ``widths[j]``, ``2 * j + 1`` -- sum down to ``widths[j]`` (for
        ``j = 0..w-1``), then ``2 * w`` -- maximum up, ``2 * w + 1`` -- maximum down.

    Notes
    -----
    For position ``p`` and score array ``x`` (offsets past the array ends count as 0):

    * sum up to W = ``x[p-W] + ... + x[p-first]``, sum down to W = ``x[p+first] + ... + x[p+W]``;
    * maximum up = ``max(x[p-max_width .. p-first])``, maximum down =
      ``max(x[p+first .. p+max_width])``, each including 0 when the window passes the array
      end (so 0 when it lies wholly past it); a NaN in the window gives NaN.

    The sums are computed as differences of a float64 cumulative sum, rounded to float32
    once: with ``c = [0, x[0], x[0]+x[1], ...]`` summed sequentially in float64 (what
    ``numpy.cumsum(x, dtype=numpy.float64)`` computes), sum up to W is
    ``float32(c[max(0, p-first+1)] - c[max(0, p-W)])`` and sum down to W is
    ``float32(c[min(n, p+W+1)] - c[min(n, p+first)])``, bit for bit (so a NaN score makes
    every sum NaN whose running totals include it, inside its window or not).  The maxima are exact
    (float64 input is rounded to float32 on output).  One pass over the positions computes
    every row of every score array.
    """
    scores = _as_scores(scores)
    t, n = scores.shape
    positions = as_positions(positions, n)
    first = as_int(first, "first", minimum=1, maximum=_MAX_WIDTH)
    max_width = as_int(max_width, "max_width", minimum=first, maximum=_MAX_WIDTH)
    widths = as_int64(widths, "widths")
    if widths.size and (int(widths.min()) < first or int(widths.max()) > _MAX_WIDTH):
        bad = int(widths.min()) if int(widths.min()) < first else int(widths.max())
        raise ValueError(f"widths must lie in [first={first}, {_MAX_WIDTH}]; found {bad}")
    out = np.empty((t * (2 * widths.size + 2), positions.size), np.float32)
    last = int(positions.max()) if positions.size else -1
    h = min(n, last + max(int(widths.max()) if widths.size else 0, first - 1) + 1) if positions.size else 0
    g = min(n, last + max_width + 1)
    _long_context_kernel(scores, positions, widths, first, max_width, np.empty((t, h + 1), np.float64),
                         np.empty((t, g), scores.dtype), np.empty((t, g), scores.dtype), out)
    return out
