"""Slow, obviously-correct twins of every kernel in :mod:`kernels` (pure Python / numpy).

Each twin follows the issue text literally, position by position, so the fast kernels can be
compared against it on hypothesis-generated inputs.  Also timed by benchmarks/bench_kernels.py.
"""

from __future__ import annotations

import math

import numpy as np

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def encode(seq):
    if isinstance(seq, np.ndarray):
        seq = bytes(seq)
    if isinstance(seq, (bytes, bytearray)):
        seq = seq.decode("latin-1")
    return np.array([CODE.get(ch.upper(), 4) if ch.isascii() else 4 for ch in seq], dtype=np.uint8)


def reverse_complement(codes):
    comp = {0: 3, 1: 2, 2: 1, 3: 0, 4: 4}
    return np.array([comp[int(c)] for c in list(codes)[::-1]], dtype=np.uint8)


def _window(n, p, left, right):
    return max(0, p - left), min(n, p + right + 1)


def kmer_rank(kmer):
    r = 0
    for c in kmer:
        r = 4 * r + int(c)
    return r


def kmer_column(codes, k, p, left, right):
    """dict rank -> count for the window around p."""
    lo, hi = _window(len(codes), p, left, right)
    counts = {}
    for s in range(lo, hi - k + 1):
        kmer = [int(c) for c in codes[s:s + k]]
        if 4 in kmer:
            continue
        r = kmer_rank(kmer)
        counts[r] = counts.get(r, 0) + 1
    return counts


def kmer_counts(codes, k, positions, left=250, right=249):
    out = np.zeros((4**k, len(positions)), np.uint16)
    for i, p in enumerate(positions):
        for r, c in kmer_column(codes, k, int(p), left, right).items():
            out[r, i] = c
    return out


def kmer_counts_sparse(codes, k, positions, left=250, right=249):
    indptr = [0]
    ids, cnts = [], []
    for p in positions:
        col = kmer_column(codes, k, int(p), left, right)
        for r in sorted(col):
            ids.append(r)
            cnts.append(col[r])
        indptr.append(len(ids))
    return np.array(indptr, np.int64), np.array(ids, np.int32), np.array(cnts, np.uint16)


def nearest_site_distance(positions, sites):
    sites = [int(s) for s in sites]
    if not sites:
        return np.full(len(positions), -1, np.int64)
    return np.array([min(abs(int(p) - s) for s in sites) for p in positions], np.int64)


def _verdict(P, S, threshold, window):
    n = len(P)
    S = set(int(s) for s in S)
    v = [0] * n
    for p in range(n):
        if p in S:
            lo, hi = max(0, p - window), min(n, p + window + 1)
            v[p] = 1 if max(float(x) for x in P[lo:hi]) >= threshold else 3
        elif P[p] >= threshold and not any(abs(p - s) <= window for s in S):
            v[p] = 2
        else:
            v[p] = 0
    return v, S


def label_positions(donor_prob, acceptor_prob, donor_sites, acceptor_sites, threshold=0.5, window=2):
    n = len(donor_prob)
    vd, Sd = _verdict(donor_prob, donor_sites, threshold, window)
    va, Sa = _verdict(acceptor_prob, acceptor_sites, threshold, window)
    pred = np.zeros(n, np.int8)
    splice = np.zeros(n, np.int8)
    for p in range(n):
        if p in Sd:
            splice[p], pred[p] = 1, vd[p]
        elif p in Sa:
            splice[p], pred[p] = 2, va[p]
        else:
            splice[p], pred[p] = 0, (2 if 2 in (vd[p], va[p]) else 0)
    return pred, splice


EPS = 1e-10


def _type_feats(X, m2, m1, p1, p2):
    mean = (m2 + m1 + p1 + p2) / 4
    cmax = max(m2, m1, p1, p2)
    return {
        "context_mean": mean,
        "context_max": cmax,
        "context_asymmetry": (m1 + m2) - (p1 + p2),
        "diff_m2": X - m2,
        "diff_m1": X - m1,
        "diff_p1": X - p1,
        "diff_p2": X - p2,
        "surge_ratio": X / (m1 + p1 + EPS),
        "is_local_peak": 1.0 if (X > m1 and X > p1 and X > 1e-3) else 0.0,
        "weighted_context": 0.1 * m2 + 0.2 * m1 + 0.4 * X + 0.2 * p1 + 0.1 * p2,
        "peak_height_ratio": X / (mean + EPS),
        "second_derivative": (X - m1) - (p1 - X),
        "signal_strength": X - mean,
        "context_diff_ratio": X / (cmax + EPS),
    }


def context_features(donor, acceptor, neither):
    """dict name -> float64 array (compare to the kernel's float32 with a tolerance)."""
    n = len(donor)
    rows = []
    for i in range(n):
        def at(arr, j):
            return float(arr[j]) if 0 <= j < n else 0.0

        d, a, nn = float(donor[i]), float(acceptor[i]), float(neither[i])
        f = {}
        nb = {}
        for name, arr in (("donor", donor), ("acceptor", acceptor)):
            nb[name] = [at(arr, i - 2), at(arr, i - 1), at(arr, i + 1), at(arr, i + 2)]
            for off, v in zip(("m2", "m1", "p1", "p2"), nb[name], strict=True):
                f[f"{name}_{off}"] = v
        f["relative_donor_probability"] = d / (d + a + EPS)
        f["splice_probability"] = (d + a) / (d + a + nn + EPS)
        f["donor_acceptor_diff"] = (d - a) / (max(d, a) + EPS)
        f["splice_neither_diff"] = (max(d, a) - nn) / (max(d, a, nn) + EPS)
        f["donor_acceptor_logodds"] = math.log(d + EPS) - math.log(a + EPS)
        f["splice_neither_logodds"] = math.log(d + a + EPS) - math.log(nn + EPS)
        f["probability_entropy"] = -sum(p * math.log(p + EPS) for p in (d, a, nn))
        for name, X in (("donor", d), ("acceptor", a)):
            for key, v in _type_feats(X, *nb[name]).items():
                f[f"{name}_{key}"] = v
        f["donor_acceptor_peak_ratio"] = f["donor_peak_height_ratio"] / (f["acceptor_peak_height_ratio"] + EPS)
        f["type_signal_difference"] = f["donor_signal_strength"] - f["acceptor_signal_strength"]
        f["score_difference_ratio"] = (d - a) / (d + a + EPS)
        f["signal_strength_ratio"] = f["donor_signal_strength"] / (f["acceptor_signal_strength"] + EPS)
        rows.append(f)
    names = list(rows[0]) if rows else []
    return {name: np.array([r[name] for r in rows], np.float64) for name in names}


MASK64 = (1 << 64) - 1


def splitmix64_stream(seed):
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def downsample_strata(pred_type, max_prob, site_distance, hard_threshold=0.15, window=75, easy_ratio=0.5, seed=0,
                      easy_floor=0, forced=None):
    n = len(pred_type)
    keep = [False] * n
    stratum = [3] * n
    easy = []
    for i in range(n):
        if pred_type[i] != 0:
            keep[i], stratum[i] = True, 0
        elif max_prob[i] >= hard_threshold or (forced is not None and forced[i]):
            keep[i], stratum[i] = True, 1
        elif 0 <= site_distance[i] <= window:
            keep[i], stratum[i] = True, 2
        else:
            easy.append(i)
    n_non_tn = sum(1 for t in pred_type if t != 0)
    target = easy_ratio * n_non_tn if n_non_tn else 0.0  # saturates: a huge or infinite ratio keeps every easy TN
    want = int(target) if target < len(easy) else len(easy)
    want = max(want, min(easy_floor, len(easy)))
    # selection sampling (Knuth's Algorithm S) with the documented splitmix64 stream
    rng = splitmix64_stream(seed)
    need = want
    for t, i in enumerate(easy):
        if need == 0:
            break
        remaining = len(easy) - t
        if need == remaining:
            keep[i] = True
            need -= 1
            continue
        u = (next(rng) >> 11) * 2.0**-53
        if int(u * remaining) < need:
            keep[i] = True
            need -= 1
    return np.array(keep, dtype=bool), np.array(stratum, dtype=np.int8)


def downsample_mask(*args, **kwargs):
    return downsample_strata(*args, **kwargs)[0]


def local_peaks(values, radius=10, min_value=0.001):
    n = len(values)
    out = []
    for i in range(n):
        v = float(values[i])
        window = [float(values[j]) for j in range(max(0, i - radius), min(n, i + radius + 1))]
        out.append(v >= min_value and not any(w > v for w in window))
    return np.array(out, dtype=bool)


def gc_content(codes, positions, left=250, right=249):
    out = []
    for p in positions:
        lo, hi = _window(len(codes), int(p), left, right)
        w = [int(c) for c in codes[lo:hi] if c < 4]
        out.append(sum(1 for c in w if c in (1, 2)) / len(w) if w else 0.0)
    return np.array(out, np.float64)


def sequence_complexity(codes, positions, left=250, right=249):
    out = []
    for p in positions:
        lo, hi = _window(len(codes), int(p), left, right)
        w = [int(c) for c in codes[lo:hi] if c < 4]
        h = 0.0
        for b in range(4):
            c = w.count(b)
            if c:
                f = c / len(w)
                h -= f * math.log2(f)
        out.append(h)
    return np.array(out, np.float64)


def _long_context_rows(x, positions, widths, max_width, first):
    """The rows of one score array x (see long_context)."""
    x = [float(v) for v in x]
    n = len(x)
    total = [0.0]
    for v in x:
        total.append(total[-1] + v)

    def c(i):
        return total[min(max(i, 0), n)]

    def window_max(p, offsets):
        return float(np.max(np.array([x[q] if 0 <= q < n else 0.0 for q in offsets])))

    rows = []
    for w in widths:
        rows.append([c(p - first + 1) - c(p - w) for p in positions])
        rows.append([c(p + w + 1) - c(p + first) for p in positions])
    rows.append([window_max(p, range(p - max_width, p - first + 1)) for p in positions])
    rows.append([window_max(p, range(p + first, p + max_width + 1)) for p in positions])
    return rows


def long_context(scores, positions, widths, max_width, first=3):
    """Per score array x (offsets past the ends count as 0): for each width W, the sum over
    offsets first..W up, then down, as differences of a float64 running total (Python floats
    are float64) started at offset 0, the documented arithmetic; then the maxima over
    offsets first..max_width up and down."""
    rows = [r for x in scores for r in _long_context_rows(x, [int(p) for p in positions], widths, max_width, first)]
    return np.array(rows, np.float64).reshape(len(rows), len(positions)).astype(np.float32)


def _direct_rows(x, positions, widths, max_width, first):
    n = len(x)

    def val(q):
        return float(x[q]) if 0 <= q < n else 0.0

    rows = []
    for w in widths:
        rows.append([sum(val(p - o) for o in range(first, w + 1)) for p in positions])
        rows.append([sum(val(p + o) for o in range(first, w + 1)) for p in positions])
    rows.append([max(val(p - o) for o in range(first, max_width + 1)) for p in positions])
    rows.append([max(val(p + o) for o in range(first, max_width + 1)) for p in positions])
    return rows


def long_context_direct(scores, positions, widths, max_width, first=3):
    """The same sums added up directly, offset by offset (differs from the running-total
    differences only by float64 rounding)."""
    rows = [r for x in scores for r in _direct_rows(x, [int(p) for p in positions], widths, max_width, first)]
    return np.array(rows, np.float64).reshape(len(rows), len(positions))


def track_window_means(values, positions, widths, first=1):
    """For each width W: the mean of the covered (non-NaN) values over offsets first..W up, then
    down, as (running-total difference) / (running-count difference), the totals summed in
    float64 (Python floats) over the covered values from offset 0, the documented arithmetic;
    NaN where a window covers nothing (offsets past the ends are not covered)."""
    x = [float(v) for v in values]
    n = len(x)
    total, count = [0.0], [0]
    for v in x:
        covered = not math.isnan(v)
        total.append(total[-1] + (v if covered else 0.0))
        count.append(count[-1] + covered)

    def mean(a, b):  # prefix indices, clipped to [0, n]
        a, b = min(max(a, 0), n), min(max(b, 0), n)
        k = count[b] - count[a]
        return (total[b] - total[a]) / k if k else math.nan

    rows = []
    for w in widths:
        rows.append([mean(p - w, p - first + 1) for p in map(int, positions)])
        rows.append([mean(p + first, p + w + 1) for p in map(int, positions)])
    return np.array(rows, np.float64).reshape(len(rows), len(positions)).astype(np.float32)


def track_window_means_direct(values, positions, widths, first=1):
    """The same means taken directly over each window's covered values (differs from the
    running-total differences only by float64 rounding)."""
    x = np.asarray(values, np.float64)
    n = x.shape[0]

    def mean(lo, hi):
        window = x[max(lo, 0):min(max(hi, 0), n)]
        window = window[~np.isnan(window)]
        return float(window.mean()) if window.size else math.nan

    rows = []
    for w in widths:
        rows.append([mean(p - w, p - first + 1) for p in map(int, positions)])
        rows.append([mean(p + first, p + w + 1) for p in map(int, positions)])
    return np.array(rows, np.float64).reshape(len(rows), len(positions))
