"""Windowed means of a per-position signal with gaps (NaN = no data) at chosen positions."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_1d, as_int, as_int64, as_positions

__all__ = ["track_window_means"]

_MAX_WIDTH = 1 << 32  # widths beyond any sequence; keeps p + w + 1 far from int64 overflow


@kernel
def _track_window_means_kernel(values, positions, widths, first, cum, cnt, out):
    """values [n] (NaN = no data); scratch: cum float64 [h + 1], cnt int64 [h + 1] (h = the last
    prefix needed); out float32 [2 * len(widths), m]."""
    n = values.shape[0]
    c = 0.0
    k = 0
    cum[0] = 0.0
    cnt[0] = 0
    for i in range(cum.shape[0] - 1):
        v = values[i]
        if v == v:  # covered (not NaN)
            c += np.float64(v)
            k += 1
        cum[i + 1] = c
        cnt[i + 1] = k
    for i in range(positions.shape[0]):
        p = positions[i]
        up_hi = max(0, p - first + 1)
        down_lo = min(n, p + first)
        for j in range(widths.shape[0]):
            w = widths[j]
            lo = max(0, p - w)
            covered = cnt[up_hi] - cnt[lo]
            out[2 * j, i] = np.float32((cum[up_hi] - cum[lo]) / covered) if covered > 0 else np.float32(np.nan)
            hi = min(n, p + w + 1)
            covered = cnt[hi] - cnt[down_lo]
            out[2 * j + 1, i] = np.float32((cum[hi] - cum[down_lo]) / covered) if covered > 0 else np.float32(np.nan)


def _as_values(values) -> np.ndarray:
    """Real 1-D array without infinities -> read-only C-contiguous float32 (if float32) or float64."""
    arr = as_1d(values, "values")
    if arr.size == 0 and arr.dtype.kind not in "fiub":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"values must be a real (float or integer) array, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size and bool(np.isinf(arr).any()):
        raise ValueError("values must be finite or NaN (no data); found an infinite value")
    return readonly_c(arr, np.float32 if arr.dtype == np.float32 else np.float64)


def track_window_means(values, positions, widths, first: int = 1) -> np.ndarray:
    """Means of the covered values over offsets ``first..W`` up- and downstream of each position.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        A per-position signal (a conservation or accessibility track over one sequence); NaN
        marks a position without data. float32 stays float32, any other real dtype is used as
        float64. Infinite values are refused (``ValueError``).
    positions : array_like of int, shape (m,)
        0-based offsets in ``[0, n)``, any order, repeats allowed.
    widths : array_like of int, shape (w,)
        Window widths ``W >= first``.
    first : int, optional
        First offset counted on each side (default 1: every neighbour, the position itself left
        out), ``>= 1``.

    Returns
    -------
    numpy.ndarray of float32, shape (2 * w, m)
        C-contiguous; row ``2 * j`` -- mean up to ``widths[j]``, row ``2 * j + 1`` -- mean down
        to ``widths[j]``.

    Notes
    -----
    For position ``p``: mean up to W is the mean of the **covered** (non-NaN) values among
    ``x[p-W] .. x[p-first]``, mean down to W that among ``x[p+first] .. x[p+W]``; offsets past the
    array ends are not covered. A window with no covered value gives NaN (no data), never 0.
    "Up" is the lower offsets: pass the values in transcript orientation for strand-aware means.

    Sums and counts are differences of running totals over the array: with
    ``c = [0, v0, v0+v1, ...]`` summed sequentially in float64 over the covered values and
    ``k = [0, ...]`` the running count of covered positions, mean up to W is
    ``float32((c[a] - c[b]) / (k[a] - k[b]))`` with ``a = max(0, p-first+1)``,
    ``b = max(0, p-W)`` (and likewise downstream), bit for bit. One pass over the positions
    computes every row.
    """
    values = _as_values(values)
    n = values.shape[0]
    positions = as_positions(positions, n)
    first = as_int(first, "first", minimum=1, maximum=_MAX_WIDTH)
    widths = as_int64(widths, "widths")
    if widths.size and (int(widths.min()) < first or int(widths.max()) > _MAX_WIDTH):
        bad = int(widths.min()) if int(widths.min()) < first else int(widths.max())
        raise ValueError(f"widths must lie in [first={first}, {_MAX_WIDTH}]; found {bad}")
    out = np.empty((2 * widths.size, positions.size), np.float32)
    last = int(positions.max()) if positions.size else -1
    h = min(n, last + max(int(widths.max()) if widths.size else 0, first - 1) + 1) if positions.size else 0
    _track_window_means_kernel(values, positions, widths, first, np.empty(h + 1, np.float64),
                               np.empty(h + 1, np.int64), out)
    return out
