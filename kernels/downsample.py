"""Deterministic down-sampling of true negatives."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_1d, as_float, as_int, as_int64, as_probs

__all__ = ["downsample_mask"]

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
def _downsample_kernel(pred_type, max_prob, site_distance, hard_threshold, window, easy_ratio, seed, keep):
    """keep: zeros(n) bool output."""
    n = pred_type.shape[0]
    n_non_tn = 0
    n_left = 0
    for i in range(n):
        if pred_type[i] != 0:
            keep[i] = True
            n_non_tn += 1
        elif max_prob[i] >= hard_threshold:
            keep[i] = True
        elif site_distance[i] >= 0 and site_distance[i] <= window:
            keep[i] = True
        else:
            n_left += 1
    if n_non_tn == 0 or n_left == 0:
        return  # nothing to sample for (and inf * 0 would be NaN)
    # saturate in float64 before converting: a huge (or infinite) ratio keeps every easy TN,
    # and the int64 conversion only ever sees 0 <= target < n_left (no overflow)
    target = easy_ratio * n_non_tn
    want = n_left
    if target < n_left:
        want = np.int64(target)
    if want <= 0:
        return
    # selection sampling (Knuth, Algorithm S) over the remaining TNs in index order, with a
    # splitmix64 stream: candidate t of L is taken with probability need / (L - t)
    state = seed
    need = want
    seen = np.int64(0)
    for i in range(n):
        if keep[i] or pred_type[i] != 0:
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


def downsample_mask(pred_type, max_prob, site_distance, hard_threshold=0.15, window=75, easy_ratio=0.5, seed=0):
    """Mask of positions to keep: all non-TNs, hard TNs and a seeded sample of easy TNs.

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
        From the TNs not kept so far, exactly ``min(left, int(easy_ratio * n_non_TN))`` are
        kept, chosen uniformly without replacement.  ``>= 0``; the product saturates, so a
        huge ratio (``1e300``, ``inf``) keeps every one of them (none when there is no non-TN).
        NaN raises ``ValueError``.
    seed : int, optional
        ``0 <= seed <= 2**64 - 1``.  The choice depends only on the inputs and the seed (a
        splitmix64 stream driving selection sampling in index order, implemented in the
        kernel), not on numpy/numba versions or the machine.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
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
    hard_threshold = as_float(hard_threshold, "hard_threshold")
    # clipped into int64 without changing the mask: any window < 0 keeps no TN by distance,
    # and no int64 distance exceeds 2**63 - 1
    window = min(max(as_int(window, "window"), -1), _INT64_MAX)
    easy_ratio = as_float(easy_ratio, "easy_ratio")
    if not easy_ratio >= 0:
        raise ValueError(f"easy_ratio must be a number >= 0 (inf keeps every easy TN), got {easy_ratio}")
    seed = as_int(seed, "seed", 0, 2**64 - 1)
    keep = np.zeros(n, np.bool_)
    _downsample_kernel(pred, max_prob, dist, hard_threshold, window, easy_ratio, np.uint64(seed), keep)
    return keep
