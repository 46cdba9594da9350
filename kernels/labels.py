"""TP/FP/FN/TN labelling of positions against true splice sites."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel
from ._validate import as_float, as_int, as_int64, as_probs

__all__ = ["FN", "FP", "TN", "TP", "label_positions"]

TN, TP, FP, FN = 0, 1, 2, 3


@kernel
def _label_kernel(donor_prob, acceptor_prob, donor_sites, acceptor_sites, threshold, window,
                  pred, splice, near):
    """pred, splice: zeros(n) int8 outputs; near: zeros((2, n + 1)) int32 scratch."""
    n = donor_prob.shape[0]
    # near[t, p] (after a running sum): number of true sites of type t within `window` of p
    for t in range(2):
        sites = donor_sites if t == 0 else acceptor_sites
        for q in range(sites.shape[0]):
            s = sites[q]
            near[t, s - window if s > window else 0] += 1
            near[t, s + window + 1 if s + window + 1 < n else n] -= 1
    run_d = 0
    run_a = 0
    for p in range(n):
        run_d += near[0, p]
        run_a += near[1, p]
        if (donor_prob[p] >= threshold and run_d == 0) or (acceptor_prob[p] >= threshold and run_a == 0):
            pred[p] = 2  # FP (overwritten below at true sites)
    # true sites: acceptors first so that donors win where a position is both
    for t in range(1, -1, -1):
        sites = donor_sites if t == 0 else acceptor_sites
        prob = donor_prob if t == 0 else acceptor_prob
        for q in range(sites.shape[0]):
            s = sites[q]
            verdict = 3  # FN
            for u in range(s - window if s > window else 0, s + window + 1 if s + window + 1 < n else n):
                if prob[u] >= threshold:
                    verdict = 1  # TP
                    break
            pred[s] = verdict
            splice[s] = 1 if t == 0 else 2


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
    pred = np.zeros(n, np.int8)
    splice = np.zeros(n, np.int8)
    near = np.zeros((2, n + 1), np.int32)
    _label_kernel(donor_prob, acceptor_prob, sites[0], sites[1], threshold, window, pred, splice, near)
    return pred, splice
