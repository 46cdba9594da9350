"""Context features derived from per-position donor/acceptor/neither probabilities."""

from __future__ import annotations

import math

import numpy as np

from ._numba_config import kernel
from ._validate import as_probs

__all__ = ["context_features", "CONTEXT_FEATURES"]

_TYPE_FEATURES = (
    "context_mean", "context_max", "context_asymmetry",
    "diff_m2", "diff_m1", "diff_p1", "diff_p2",
    "surge_ratio", "is_local_peak", "weighted_context", "peak_height_ratio",
    "second_derivative", "signal_strength", "context_diff_ratio",
)

#: Names of the features returned by :func:`context_features`, in output row order.
CONTEXT_FEATURES: list[str] = (
    [f"{t}_{o}" for t in ("donor", "acceptor") for o in ("m2", "m1", "p1", "p2")]
    + [
        "relative_donor_probability", "splice_probability", "donor_acceptor_diff",
        "splice_neither_diff", "donor_acceptor_logodds", "splice_neither_logodds",
        "probability_entropy",
    ]
    + [f"{t}_{f}" for t in ("donor", "acceptor") for f in _TYPE_FEATURES]
    + ["donor_acceptor_peak_ratio", "type_signal_difference", "score_difference_ratio", "signal_strength_ratio"]
)
_N_FEATURES = len(CONTEXT_FEATURES)
_T0 = 15  # first per-type row (donor); acceptor rows start at _T0 + len(_TYPE_FEATURES)
_NT = len(_TYPE_FEATURES)
_X0 = _T0 + 2 * _NT  # first cross-type row
assert _N_FEATURES == _X0 + 4


@kernel(inline="always")
def _type_features(out, base, i, x, m2, m1, p1, p2, eps):
    """Write the per-type rows starting at row ``base``; return (peak_height_ratio, signal)."""
    mean = (m2 + m1 + p1 + p2) / 4.0
    cmax = max(max(m2, m1), max(p1, p2))
    out[base + 0, i] = mean
    out[base + 1, i] = cmax
    out[base + 2, i] = (m1 + m2) - (p1 + p2)
    out[base + 3, i] = x - m2
    out[base + 4, i] = x - m1
    out[base + 5, i] = x - p1
    out[base + 6, i] = x - p2
    out[base + 7, i] = x / (m1 + p1 + eps)
    out[base + 8, i] = 1.0 if (x > m1 and x > p1 and x > 1e-3) else 0.0
    out[base + 9, i] = 0.1 * m2 + 0.2 * m1 + 0.4 * x + 0.2 * p1 + 0.1 * p2
    phr = x / (mean + eps)
    out[base + 10, i] = phr
    out[base + 11, i] = (x - m1) - (p1 - x)
    sig = x - mean
    out[base + 12, i] = sig
    out[base + 13, i] = x / (cmax + eps)
    return phr, sig


@kernel(inline="always")
def _position_features(out, i, d, a, nn, dm2, dm1, dp1, dp2, am2, am1, ap1, ap2, eps):
    """All rows except the three logarithmic ones, for position i."""
    out[0, i] = dm2
    out[1, i] = dm1
    out[2, i] = dp1
    out[3, i] = dp2
    out[4, i] = am2
    out[5, i] = am1
    out[6, i] = ap1
    out[7, i] = ap2
    mda = max(d, a)
    out[8, i] = d / (d + a + eps)
    out[9, i] = (d + a) / (d + a + nn + eps)
    out[10, i] = (d - a) / (mda + eps)
    out[11, i] = (mda - nn) / (max(mda, nn) + eps)
    dphr, dsig = _type_features(out, _T0, i, d, dm2, dm1, dp1, dp2, eps)
    aphr, asig = _type_features(out, _T0 + _NT, i, a, am2, am1, ap1, ap2, eps)
    out[_X0 + 0, i] = dphr / (aphr + eps)
    out[_X0 + 1, i] = dsig - asig
    out[_X0 + 2, i] = (d - a) / (d + a + eps)
    out[_X0 + 3, i] = dsig / (asig + eps)


@kernel
def _context_kernel(donor, acceptor, neither, out):
    n = donor.shape[0]
    eps = 1e-10
    for i in range(n):
        d = np.float64(donor[i])
        a = np.float64(acceptor[i])
        nn = np.float64(neither[i])
        _position_features(
            out, i, d, a, nn,
            np.float64(donor[i - 2]) if i >= 2 else 0.0,
            np.float64(donor[i - 1]) if i >= 1 else 0.0,
            np.float64(donor[i + 1]) if i + 1 < n else 0.0,
            np.float64(donor[i + 2]) if i + 2 < n else 0.0,
            np.float64(acceptor[i - 2]) if i >= 2 else 0.0,
            np.float64(acceptor[i - 1]) if i >= 1 else 0.0,
            np.float64(acceptor[i + 1]) if i + 1 < n else 0.0,
            np.float64(acceptor[i + 2]) if i + 2 < n else 0.0,
            eps,
        )
        ld = math.log(d + eps)
        la = math.log(a + eps)
        ln_ = math.log(nn + eps)
        out[12, i] = ld - la
        out[13, i] = math.log(d + a + eps) - ln_
        out[14, i] = -(d * ld + a * la + nn * ln_)


def context_features(donor, acceptor, neither) -> dict:
    """Neighbour scores and derived context features for every position.

    Parameters
    ----------
    donor, acceptor, neither : array_like of float, shape (n,)
        Per-position probabilities of one sequence (any real dtype; read-only and strided
        arrays accepted).

    Returns
    -------
    dict of str -> numpy.ndarray of float32, shape (n,)
        One entry per name in :data:`CONTEXT_FEATURES`, in that order.  Values are computed
        in float64 and rounded to float32 on output.  Each value is one C-contiguous row of
        a single ``(len(CONTEXT_FEATURES), n)`` float32 array (so Arrow can wrap it without a
        copy).

    Notes
    -----
    With eps = 1e-10, ``d, a, n`` the three probabilities at the position and, for type X in
    {donor, acceptor}, ``m2, m1, p1, p2`` X's own scores at offsets -2, -1, +1, +2 (0 past
    the array ends), ``mean = (m2+m1+p1+p2)/4`` and ``cmax = max(m2, m1, p1, p2)``:

    * ``X_m2, X_m1, X_p1, X_p2``: the neighbour scores.
    * ``relative_donor_probability = d/(d+a+eps)``;
      ``splice_probability = (d+a)/(d+a+n+eps)``;
      ``donor_acceptor_diff = (d-a)/(max(d,a)+eps)``;
      ``splice_neither_diff = (max(d,a)-n)/(max(d,a,n)+eps)``;
      ``donor_acceptor_logodds = ln(d+eps)-ln(a+eps)``;
      ``splice_neither_logodds = ln(d+a+eps)-ln(n+eps)``;
      ``probability_entropy = -sum p ln(p+eps)`` over d, a, n.
    * per type X: ``X_context_mean = mean``, ``X_context_max = cmax``,
      ``X_context_asymmetry = (m1+m2)-(p1+p2)``, ``X_diff_m2 .. X_diff_p2 = X - neighbour``,
      ``X_surge_ratio = X/(m1+p1+eps)``, ``X_is_local_peak = X>m1 and X>p1 and X>1e-3``
      (0/1), ``X_weighted_context = .1 m2 + .2 m1 + .4 X + .2 p1 + .1 p2``,
      ``X_peak_height_ratio = X/(mean+eps)``, ``X_second_derivative = (X-m1)-(p1-X)``,
      ``X_signal_strength = X-mean``, ``X_context_diff_ratio = X/(cmax+eps)``.
    * cross-type: ``donor_acceptor_peak_ratio = donor_peak_height_ratio /
      (acceptor_peak_height_ratio+eps)``, ``type_signal_difference = donor_signal_strength -
      acceptor_signal_strength``, ``score_difference_ratio = (d-a)/(d+a+eps)``,
      ``signal_strength_ratio = donor_signal_strength/(acceptor_signal_strength+eps)``.
    """
    donor, acceptor, neither = as_probs((donor, "donor"), (acceptor, "acceptor"), (neither, "neither"))
    block = np.empty((_N_FEATURES, donor.shape[0]), np.float32)
    _context_kernel(donor, acceptor, neither, block)
    return {name: block[r] for r, name in enumerate(CONTEXT_FEATURES)}
