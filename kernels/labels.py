"""TP/FP/FN/TN labelling of positions against true splice sites."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel
from ._validate import as_float, as_int, as_int64, as_probs

__all__ = ["label_positions", "TN", "TP", "FP", "FN"]

TN, TP, FP, FN = 0, 1, 2, 3


@kernel
def _verdicts(prob, sites, threshold, window, is_site, verdict):
    """Fill is_site (0/1) and verdict (TN/TP/FP/FN) for one site type."""
    n = prob.shape[0]
    near = np.zeros(n + 1, np.int32)  # difference array: true sites within `window`
    for q in range(sites.shape[0]):
        s = sites[q]
        is_site[s] = 1
        near[max(0, s - window)] += 1
        near[min(n, s + window + 1)] -= 1
    run = 0
    for p in range(n):
        run += near[p]
        v = 0
        if prob[p] >= threshold and run == 0:
            v = 2
        verdict[p] = v
    for q in range(sites.shape[0]):
        s = sites[q]
        hit = False
        for t in range(max(0, s - window), min(n, s + window + 1)):
            if prob[t] >= threshold:
                hit = True
                break
        verdict[s] = 1 if hit else 3


@kernel
def _label_kernel(donor_prob, acceptor_prob, donor_sites, acceptor_sites, threshold, window):
    n = donor_prob.shape[0]
    is_d = np.zeros(n, np.int8)
    is_a = np.zeros(n, np.int8)
    vd = np.empty(n, np.int8)
    va = np.empty(n, np.int8)
    _verdicts(donor_prob, donor_sites, threshold, window, is_d, vd)
    _verdicts(acceptor_prob, acceptor_sites, threshold, window, is_a, va)
    pred = np.empty(n, np.int8)
    splice = np.empty(n, np.int8)
    for p in range(n):
        if is_d[p]:
            splice[p] = 1
            pred[p] = vd[p]
        elif is_a[p]:
            splice[p] = 2
            pred[p] = va[p]
        else:
            splice[p] = 0
            pred[p] = 2 if (vd[p] == 2 or va[p] == 2) else 0
    return pred, splice


def label_positions(donor_prob, acceptor_prob, donor_sites, acceptor_sites, threshold=0.5, window=2):
    """Label every position as TN/TP/FP/FN against true donor and acceptor sites.

    For one site type with probabilities ``P`` and true sites ``S``: a true site ``s`` is TP
    (1) if ``max(P[s - window : s + window + 1])`` (clipped to the array) ``>= threshold``,
    else FN (3); any other position ``p`` is FP (2) if ``P[p] >= threshold`` and no true site
    of that type lies within ``window`` of ``p``, else TN (0).  NaN probabilities never reach
    the threshold.

    Parameters
    ----------
    donor_prob, acceptor_prob : array_like of float, shape (n,)
        Per-position probabilities (float32 kept as float32, other real dtypes used as
        float64; comparisons are exact in that dtype against ``float(threshold)``).
    donor_sites, acceptor_sites : array_like of int
        0-based offsets of true sites; any order, duplicates allowed.  Values outside
        ``[0, n)`` raise ``ValueError`` (the caller maps coordinates; silently ignoring them
        would hide off-by-one bugs).
    threshold : float, optional
    window : int, optional
        ``>= 0``.

    Returns
    -------
    pred_type : numpy.ndarray of int8, shape (n,)
        At a true donor site the donor verdict, else at a true acceptor site the acceptor
        verdict, elsewhere FP if either type says FP, else TN.
    splice_type : numpy.ndarray of int8, shape (n,)
        1 at true donor sites, 2 at true acceptor sites (donor wins if both), else 0.
    """
    donor_prob, acceptor_prob = as_probs((donor_prob, "donor_prob"), (acceptor_prob, "acceptor_prob"))
    n = donor_prob.shape[0]
    sites = []
    for x, name in ((donor_sites, "donor_sites"), (acceptor_sites, "acceptor_sites")):
        s = as_int64(x, name)
        if s.size and (int(s.min()) < 0 or int(s.max()) >= n):
            bad = int(s.min()) if int(s.min()) < 0 else int(s.max())
            raise ValueError(f"{name} must lie in [0, {n}) (0-based offsets into the probability arrays); found {bad}")
        sites.append(s)
    threshold = as_float(threshold, "threshold")
    window = as_int(window, "window", 0)
    window = min(window, n + 1)  # larger windows behave identically; keeps int arithmetic small
    return _label_kernel(donor_prob, acceptor_prob, sites[0], sites[1], threshold, window)
