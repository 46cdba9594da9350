"""Deterministic down-sampling of true negatives, by stratum, and local score peaks.

Every position falls in one stratum (:data:`STRATA`, codes 0..3): ``non_tn`` (TP/FP/FN),
``hard`` (a TN the base model scores at least ``hard_threshold``, or one the caller forces in,
e.g. a local score peak from :func:`local_peaks`), ``near_site`` (a TN within ``window`` nt of an
annotated site) and ``easy`` (every other TN). The first three are always kept; a seeded
uniform sample of the easy stratum is kept, so the keep probability of an easy row is exactly
``kept_easy / n_easy`` of its array (gene) and 1 for the others.
"""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_1d, as_float, as_int, as_int64, as_probs

__all__ = ["STRATA", "downsample_mask", "downsample_strata", "local_peaks"]

#: Stratum names, indexed by the codes :func:`downsample_strata` returns.
STRATA = ("non_tn", "hard", "near_site", "easy")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_INT64_MAX = 2**63 - 1


@kernel
def _downsample_kernel(pred_type, max_prob, site_distance, forced, hard_threshold, window, easy_ratio, easy_floor,
                       seed, keep, stratum):
    """keep: zeros(n) bool output; stratum: int8 output (codes of STRATA)."""
    n = pred_type.shape[0]
    use_forced = forced.shape[0] == n
    n_non_tn = 0
    n_left = 0
    for i in range(n):
        if pred_type[i] != 0:
            keep[i] = True
            stratum[i] = 0
            n_non_tn += 1
        elif max_prob[i] >= hard_threshold or (use_forced and forced[i]):
            keep[i] = True
            stratum[i] = 1
        elif site_distance[i] >= 0 and site_distance[i] <= window:
            keep[i] = True
            stratum[i] = 2
        else:
            stratum[i] = 3
            n_left += 1
    if n_left == 0:
        return
    # saturate in float64 before converting: a huge (or infinite) ratio keeps every easy TN,
    # and the int64 conversion only ever sees 0 <= target < n_left (no overflow)
    want = n_left
    if n_non_tn > 0:  # (inf * 0 would be NaN)
        target = easy_ratio * n_non_tn
        if target < n_left:
            want = np.int64(target)
    else:
        want = 0
    if want < easy_floor:
        want = min(easy_floor, n_left)
    if want <= 0:
        return
    # selection sampling (Knuth, Algorithm S) over the easy TNs in index order, with a
    # splitmix64 stream: candidate t of L is taken with probability need / (L - t)
    state = seed
    need = want
    seen = np.int64(0)
    for i in range(n):
        if stratum[i] != 3:
            continue
        remaining = n_left - seen
        seen += 1
        if need == remaining:
            keep[i] = True
            need -= 1
        else:
            state = state + _GOLDEN
            z = state
            z = (z ^ (z >> _S30)) * _MIX1
            z = (z ^ (z >> _S27)) * _MIX2
            z = z ^ (z >> _S31)
            u = np.float64(z >> _S11) * _TWO_M53  # uniform in [0, 1), 53 bits
            if np.int64(u * remaining) < need:
                keep[i] = True
                need -= 1
        if need == 0:
            break


@kernel
def _local_peaks_kernel(values, radius, min_value, out):
    """out[i] = values[i] >= min_value and values[i] >= every value within radius (NaN: never)."""
    n = values.shape[0]
    for i in range(n):
        v = values[i]
        if not np.float64(v) >= min_value:  # float64 compare, also without the JIT (NumPy 2 would use float32)
            continue
        lo = max(0, i - radius)
        hi = min(n, i + radius + 1)
        peak = True
        for j in range(lo, hi):
            if values[j] > v:
                peak = False
                break
        out[i] = peak


def local_peaks(values, radius=10, min_value=0.001):
    """Mask of local maxima: positions scoring at least ``min_value`` and no less than any
    position within ``radius`` (ties: every tied position is a peak).

    Parameters
    ----------
    values : array_like of float, shape (n,)
        E.g. ``max(donor, acceptor)`` of a gene; NaN is never a peak (and never beats one).
    radius : int, optional
        ``>= 0``; 0 makes every position ``>= min_value`` a peak.
    min_value : float, optional
        Floor below which no position is a peak (``inf``: none).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    (vals,) = as_probs((values, "values"))
    radius = min(as_int(radius, "radius", 0), max(vals.shape[0], 1))
    min_value = as_float(min_value, "min_value")
    if min_value != min_value:
        raise ValueError("min_value must be a number, got nan")
    out = np.zeros(vals.shape[0], np.bool_)
    _local_peaks_kernel(vals, radius, min_value, out)
    return out


def downsample_mask(pred_type, max_prob, site_distance, hard_threshold=0.15, window=75, easy_ratio=0.5, seed=0,
                    easy_floor=0, forced=None):
    """Mask of positions to keep: all non-TNs, hard TNs and a seeded sample of easy TNs.

    The keep mask of :func:`downsample_strata` (same parameters).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    return downsample_strata(pred_type, max_prob, site_distance, hard_threshold, window, easy_ratio, seed,
                             easy_floor, forced)[0]


def downsample_strata(pred_type, max_prob, site_distance, hard_threshold=0.15, window=75, easy_ratio=0.5, seed=0,
                      easy_floor=0, forced=None):
    """Stratum of every position and the mask of positions kept (see the module docstring).

    Parameters
    ----------
    pred_type : array_like of int, shape (n,)
        0 = TN, anything else (TP/FP/FN) is kept.
    max_prob : array_like of float, shape (n,)
        A TN with ``max_prob >= hard_threshold`` is kept (NaN is not).
    site_distance : array_like of int, shape (n,)
        A TN with ``0 <= site_distance <= window`` is kept (``-1`` = no site).
    hard_threshold : float, optional
        NaN keeps no TN as hard.
    window : int, optional
        Any size; a negative window keeps no TN for its distance.
    easy_ratio : float, optional
        From the easy TNs, ``min(n_easy, max(easy_floor, int(easy_ratio * n_non_TN)))`` are
        kept, chosen uniformly without replacement.  ``>= 0``; the product saturates, so a
        huge ratio (``1e300``, ``inf``) keeps every one of them (none when there is no non-TN
        and no floor).  NaN raises ``ValueError``.
    seed : int, optional
        ``0 <= seed <= 2**64 - 1``.  The choice depends only on the inputs and the seed (a
        splitmix64 stream driving selection sampling in index order, implemented in the
        kernel), not on numpy/numba versions or the machine.
    easy_floor : int, optional
        At least this many easy TNs are kept (all of them when fewer), also in an array with
        no TP/FP/FN; ``>= 0``.
    forced : array_like of bool, shape (n,), optional
        TNs to put in the ``hard`` stratum whatever their score (e.g. :func:`local_peaks`).

    Returns
    -------
    keep : numpy.ndarray of bool, shape (n,)
    stratum : numpy.ndarray of int8, shape (n,)
        Codes of :data:`STRATA`.
    """
    pred = as_1d(pred_type, "pred_type")
    if pred.dtype.kind not in "iub" and pred.size:
        raise TypeError(f"pred_type must be an integer array, got dtype {pred.dtype}")
    # only "TN (0) or not" matters; int8 input (as from label_positions) is used as is
    pred = readonly_c(pred) if pred.dtype == np.int8 else readonly_c((pred != 0).view(np.int8))
    (max_prob,) = as_probs((max_prob, "max_prob"))
    dist = as_int64(site_distance, "site_distance")
    n = pred.shape[0]
    if max_prob.shape[0] != n or dist.shape[0] != n:
        raise ValueError(
            f"pred_type, max_prob and site_distance must have one length; got {n}, {max_prob.shape[0]}, {dist.shape[0]}"
        )
    forced_arr = _forced(forced, n)
    hard_threshold = as_float(hard_threshold, "hard_threshold")
    # clipped into int64 without changing the mask: any window < 0 keeps no TN by distance,
    # and no int64 distance exceeds 2**63 - 1
    window = min(max(as_int(window, "window"), -1), _INT64_MAX)
    easy_ratio = as_float(easy_ratio, "easy_ratio")
    if not easy_ratio >= 0:
        raise ValueError(f"easy_ratio must be a number >= 0 (inf keeps every easy TN), got {easy_ratio}")
    easy_floor = min(as_int(easy_floor, "easy_floor", 0), _INT64_MAX)
    seed = as_int(seed, "seed", 0, 2**64 - 1)
    keep = np.zeros(n, np.bool_)
    stratum = np.zeros(n, np.int8)
    _downsample_kernel(pred, max_prob, dist, forced_arr, hard_threshold, window, easy_ratio, easy_floor,
                       np.uint64(seed), keep, stratum)
    return keep, stratum


def _forced(forced, n: int) -> np.ndarray:
    """``forced`` as a read-only bool array of length n (an empty one for None)."""
    if forced is None:
        return readonly_c(np.zeros(0, np.bool_))
    arr = as_1d(forced, "forced")
    if arr.dtype != np.bool_:
        raise TypeError(f"forced must be a boolean array, got dtype {arr.dtype}")
    if arr.shape[0] != n:
        raise ValueError(f"forced must have the length of pred_type ({n}), got {arr.shape[0]}")
    return readonly_c(arr)
