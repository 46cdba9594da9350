"""Distance from each position to the nearest site."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_int64

__all__ = ["nearest_site_distance"]


@kernel
def _nearest_kernel(positions, sites, out):
    """sites: sorted ascending (duplicates allowed), non-empty."""
    m = positions.shape[0]
    ns = sites.shape[0]
    j = 0  # first index with sites[j] >= p
    prev = positions[0] if m > 0 else 0
    for i in range(m):
        p = positions[i]
        lo = 0
        hi = j
        if p >= prev:
            # sorted input: a few linear steps (amortised O(1)); a long jump: binary search
            steps = 0
            while j < ns and sites[j] < p and steps < 8:
                j += 1
                steps += 1
            lo = j
            hi = ns if (j < ns and sites[j] < p) else j
        if lo < hi:
            while lo < hi:
                mid = (lo + hi) >> 1
                if sites[mid] < p:
                    lo = mid + 1
                else:
                    hi = mid
            j = lo
        prev = p
        if j < ns:
            d = sites[j] - p
            if j > 0 and p - sites[j - 1] < d:
                d = p - sites[j - 1]
        else:
            d = p - sites[ns - 1]
        out[i] = d


def nearest_site_distance(positions, sites) -> np.ndarray:
    """Distance from each position to the nearest site.

    Parameters
    ----------
    positions : array_like of int, shape (m,)
        Any integer values (0-based offsets), in any order; sorted input is fastest.
    sites : array_like of int, shape (s,)
        Site offsets in the same coordinates; need not be sorted or unique.

    Returns
    -------
    numpy.ndarray of int64, shape (m,)
        ``min(|p - s|)`` over ``sites`` for each ``p``; ``-1`` everywhere when ``sites`` is
        empty.
    """
    positions = as_int64(positions, "positions")
    sites = as_int64(sites, "sites")
    if sites.shape[0] == 0:
        return np.full(positions.shape[0], -1, np.int64)
    if sites.shape[0] > 1 and not bool(np.all(sites[1:] >= sites[:-1])):
        sites = readonly_c(np.sort(sites))
    out = np.empty(positions.shape[0], np.int64)
    _nearest_kernel(positions, sites, out)
    return out
