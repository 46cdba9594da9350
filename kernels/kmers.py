"""Windowed k-mer counts around positions (dense and CSR-sparse)."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel
from ._validate import as_codes, as_int, as_positions

__all__ = ["kmer_counts", "kmer_counts_sparse", "MAX_DENSE_ENTRIES", "MAX_K_SPARSE"]

#: Upper bound on ``4**k * len(positions)`` for :func:`kmer_counts` (2**31 entries = 4 GiB).
MAX_DENSE_ENTRIES = 2**31
#: Largest ``k`` accepted by :func:`kmer_counts_sparse` (its count table has ``4**k`` int32).
MAX_K_SPARSE = 12
#: Output is uint16, so a k-mer may occur at most this often in one window.
_MAX_COUNT = 65535


# ----------------------------------------------------------------------------------- helpers
@kernel
def _span(n, positions, left, right):
    """[lo, hi) of codes covered by the union of all windows (positions non-empty)."""
    pmin = positions[0]
    pmax = positions[0]
    for i in range(1, positions.shape[0]):
        p = positions[i]
        if p < pmin:
            pmin = p
        if p > pmax:
            pmax = p
    lo = max(0, pmin - left)
    hi = min(n, pmax + right + 1)
    return lo, hi


@kernel
def _kmer_ids(codes, k, lo, hi):
    """ids[t] = rank of the k-mer starting at lo + t (t < hi - lo - k + 1), -1 if it has an N."""
    m = hi - lo - k + 1
    if m < 0:
        m = 0
    ids = np.empty(m, np.int32)
    mask = (1 << (2 * k)) - 1
    code = 0
    run = 0
    for t in range(lo, hi):
        c = codes[t]
        if c >= 4:
            run = 0
            code = 0
        else:
            code = ((code << 2) | c) & mask
            run += 1
        s = t - lo - k + 1
        if s >= 0:
            ids[s] = code if run >= k else -1
    return ids


# ------------------------------------------------------------------------------------- dense
@kernel
def _kmer_dense_kernel(codes, k, positions, left, right):
    n = codes.shape[0]
    m = positions.shape[0]
    K = 1 << (2 * k)
    out = np.empty((K, m), np.uint16)
    if m == 0:
        return out
    span_lo, span_hi = _span(n, positions, left, right)
    ids = _kmer_ids(codes, k, span_lo, span_hi)
    counts = np.zeros(K, np.uint16)  # <= 65535 per window (checked by the wrapper)
    cur_a = 0
    cur_b = 0  # current window's k-mer starts, as [cur_a, cur_b) indices into ids
    for i in range(m):
        p = positions[i]
        a = max(0, p - left) - span_lo
        b = min(n, p + right + 1) - span_lo - k + 1
        if b < a:
            b = a
        if (min(b, cur_b) <= max(a, cur_a)) and (cur_b - cur_a) > K:
            # disjoint windows and clearing the table is cheaper than removing
            counts[:] = 0
            for t in range(a, b):
                j = ids[t]
                if j >= 0:
                    counts[j] += 1
        else:
            for t in range(cur_a, min(cur_b, a)):  # old minus new (left part)
                j = ids[t]
                if j >= 0:
                    counts[j] -= 1
            for t in range(max(b, cur_a), cur_b):  # old minus new (right part)
                j = ids[t]
                if j >= 0:
                    counts[j] -= 1
            for t in range(a, min(b, cur_a)):  # new minus old (left part)
                j = ids[t]
                if j >= 0:
                    counts[j] += 1
            for t in range(max(a, cur_b), b):  # new minus old (right part)
                j = ids[t]
                if j >= 0:
                    counts[j] += 1
        cur_a = a
        cur_b = b
        # column write straight into the [K, m] output (measured faster than a transposed
        # [m, K] buffer or a blocked transpose: 31 vs 12-15 M positions/s at k=3)
        for j in range(K):
            out[j, i] = counts[j]
    return out


# ------------------------------------------------------------------------------------ sparse
@kernel
def _lower_bound(arr, n, x):
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def _copy_row(ids, cnt, src, dst, length):
    """ids[dst:dst+length] = ids[src:src+length] (same for cnt); ranges never overlap."""
    a = ids[src:src + length]
    b = ids[dst:dst + length]
    for r in range(length):
        b[r] = a[r]
    c = cnt[src:src + length]
    d = cnt[dst:dst + length]
    for r in range(length):
        d[r] = c[r]


@kernel
def _shellsort(a, n):
    gap = 1
    while gap < n // 3:
        gap = 3 * gap + 1
    while gap >= 1:
        for i in range(gap, n):
            x = a[i]
            j = i
            while j >= gap and a[j - gap] > x:
                a[j] = a[j - gap]
                j -= gap
            a[j] = x
        gap //= 3


@kernel
def _kmer_sparse_kernel(codes, k, positions, left, right):
    n = codes.shape[0]
    m = positions.shape[0]
    K = 1 << (2 * k)
    indptr = np.zeros(m + 1, np.int64)
    if m == 0:
        return indptr, np.empty(0, np.int32), np.empty(0, np.uint16)
    span_lo, span_hi = _span(n, positions, left, right)
    ids = _kmer_ids(codes, k, span_lo, span_hi)
    counts = np.zeros(K, np.int32)

    # pass 1: number of distinct k-mers per window -> indptr
    distinct = 0
    cur_a = 0
    cur_b = 0
    for i in range(m):
        p = positions[i]
        a = max(0, p - left) - span_lo
        b = min(n, p + right + 1) - span_lo - k + 1
        if b < a:
            b = a
        for t in range(cur_a, min(cur_b, a)):
            j = ids[t]
            if j >= 0:
                counts[j] -= 1
                if counts[j] == 0:
                    distinct -= 1
        for t in range(max(b, cur_a), cur_b):
            j = ids[t]
            if j >= 0:
                counts[j] -= 1
                if counts[j] == 0:
                    distinct -= 1
        for t in range(a, min(b, cur_a)):
            j = ids[t]
            if j >= 0:
                if counts[j] == 0:
                    distinct += 1
                counts[j] += 1
        for t in range(max(a, cur_b), b):
            j = ids[t]
            if j >= 0:
                if counts[j] == 0:
                    distinct += 1
                counts[j] += 1
        cur_a = a
        cur_b = b
        indptr[i + 1] = indptr[i] + distinct
    # clear the table (only entries of the last window are non-zero)
    for t in range(cur_a, cur_b):
        j = ids[t]
        if j >= 0:
            counts[j] = 0

    nnz = indptr[m]
    out_ids = np.empty(nnz, np.int32)
    out_cnt = np.empty(nnz, np.uint16)
    # pass 2: row i = row i-1 merged with the (sorted, de-duplicated) k-mers whose count changed
    touched = np.empty(2 * (left + right + 2), np.int32)
    prev0 = 0
    prev1 = 0  # previous row is out[prev0:prev1]
    cur_a = 0
    cur_b = 0
    for i in range(m):
        p = positions[i]
        a = max(0, p - left) - span_lo
        b = min(n, p + right + 1) - span_lo - k + 1
        if b < a:
            b = a
        nt = 0
        for t in range(cur_a, min(cur_b, a)):
            j = ids[t]
            if j >= 0:
                counts[j] -= 1
                touched[nt] = j
                nt += 1
        for t in range(max(b, cur_a), cur_b):
            j = ids[t]
            if j >= 0:
                counts[j] -= 1
                touched[nt] = j
                nt += 1
        for t in range(a, min(b, cur_a)):
            j = ids[t]
            if j >= 0:
                counts[j] += 1
                touched[nt] = j
                nt += 1
        for t in range(max(a, cur_b), b):
            j = ids[t]
            if j >= 0:
                counts[j] += 1
                touched[nt] = j
                nt += 1
        cur_a = a
        cur_b = b
        _shellsort(touched, nt)
        dst = indptr[i]
        src = prev0
        q = 0
        while q < nt:
            u = touched[q]
            q += 1
            if q < nt and touched[q] == u:
                continue  # duplicate: handle its last occurrence only
            pos = prev0 + _lower_bound(out_ids[prev0:prev1], prev1 - prev0, u)
            _copy_row(out_ids, out_cnt, src, dst, pos - src)
            dst += pos - src
            src = pos
            if src < prev1 and out_ids[src] == u:
                src += 1  # replaced (or dropped) below
            c = counts[u]
            if c > 0:
                out_ids[dst] = u
                out_cnt[dst] = c
                dst += 1
        _copy_row(out_ids, out_cnt, src, dst, prev1 - src)
        prev0 = indptr[i]
        prev1 = indptr[i + 1]
    return indptr, out_ids, out_cnt


# ---------------------------------------------------------------------------- public wrappers
def _check_common(codes, k, positions, left, right, k_max):
    codes = as_codes(codes)
    k = as_int(k, "k", 1, k_max)
    left = as_int(left, "left", 0)
    right = as_int(right, "right", 0)
    if left + right + 2 - k > _MAX_COUNT:
        raise ValueError(f"window too long for uint16 counts: left + right + 1 = {left + right + 1}")
    positions = as_positions(positions, codes.shape[0])
    return codes, k, positions, left, right


def kmer_counts(codes, k, positions, left=250, right=249) -> np.ndarray:
    """Dense k-mer counts in a window around each position.

    Parameters
    ----------
    codes : numpy.ndarray of uint8, shape (n,)
        Encoded sequence (codes 0..4, see :func:`kernels.encode`).  Read-only and strided
        arrays are accepted.
    k : int
        k-mer length, ``k >= 1``; ``4**k * len(positions)`` must not exceed
        :data:`MAX_DENSE_ENTRIES`.
    positions : array_like of int, shape (m,)
        0-based offsets into ``codes``, each in ``[0, n)``, in any order (sorted input is
        fastest: the window slides, adding the k-mers entering and removing those leaving).
    left, right : int, optional
        Window ``codes[max(0, p - left) : min(n, p + right + 1)]``; defaults give the
        reference 500-nt window.  ``left + right + 1`` must be <= 65535 + k - 1.

    Returns
    -------
    numpy.ndarray of uint16, shape (4**k, m), C order
        ``out[j, i]`` is the number of occurrences of k-mer ``j`` lying wholly inside the
        window of ``positions[i]`` and free of N.  ``j`` is the k-mer's rank in ACGT
        lexicographic order (first base most significant: ``AA..A`` = 0, ``TT..T`` = 4**k-1),
        so each k-mer's counts form a contiguous row.
    """
    codes, k, positions, left, right = _check_common(codes, k, positions, left, right, 31)
    if (4**k) * max(1, positions.shape[0]) > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"dense output 4**{k} x {positions.shape[0]} exceeds {MAX_DENSE_ENTRIES} entries; "
            "use kmer_counts_sparse or fewer positions per call"
        )
    return _kmer_dense_kernel(codes, k, positions, left, right)


def kmer_counts_sparse(codes, k, positions, left=250, right=249):
    """k-mer counts in a window around each position, in CSR form.

    Same windows and counting rule as :func:`kmer_counts`, for ``1 <= k <= 12``
    (:data:`MAX_K_SPARSE`).

    Parameters
    ----------
    codes : numpy.ndarray of uint8, shape (n,)
    k : int
    positions : array_like of int, shape (m,)
    left, right : int, optional

    Returns
    -------
    indptr : numpy.ndarray of int64, shape (m + 1,)
        Row ``i`` (``positions[i]``) owns entries ``indptr[i]:indptr[i + 1]``.
    kmer_ids : numpy.ndarray of int32, shape (nnz,)
        k-mer ranks with a non-zero count, ascending within each row.
    counts : numpy.ndarray of uint16, shape (nnz,)
        Their counts (all >= 1).
    """
    codes, k, positions, left, right = _check_common(codes, k, positions, left, right, MAX_K_SPARSE)
    return _kmer_sparse_kernel(codes, k, positions, left, right)
