"""Windowed k-mer counts around positions (dense and CSR-sparse)."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel
from ._validate import as_codes, as_int, as_positions
from .limits import MAX_DENSE_ENTRIES, MAX_K

__all__ = ["MAX_DENSE_ENTRIES", "MAX_K", "kmer_counts", "kmer_counts_sparse"]

# MAX_DENSE_ENTRIES: upper bound on ``4**k * len(positions)`` for :func:`kmer_counts` (2**31
# entries = 4 GiB); MAX_K: largest ``k`` accepted by :func:`kmer_counts` and
# :func:`kmer_counts_sparse` (the count table has ``4**k`` uint16 entries: 32 MiB at k = 12).
# Both live in :mod:`.limits` so that option checks read them without numba.
#: Output is uint16, so a k-mer may occur at most this often in one window.
_MAX_COUNT = 65535


# Compile-time note: every array is allocated by the Python wrapper and passed in.  Each
# distinct np.empty/np.zeros call inside a kernel compiles a numba overload (0.03-0.15 s each
# on the 2-core build machine), which dominated the cold compile time.


_SPARSE_COUNT, _SPARSE_FILL, _SPARSE_ONE = 1, 2, 3
# Sparse output for 4**k <= _SCAN_MAX is written in one sweep (_SPARSE_ONE: every row is a
# scan of the count table, so its size is known as it is written) into arrays sized for the
# largest possible rows and trimmed in place; larger k count the rows first (_SPARSE_COUNT),
# then fill them (_SPARSE_FILL), so their arrays are allocated once at their final size.
# Dense output (_dense_kernel) is written as runs: consecutive positions change at most a few
# counts (two for the common step of sorted, consecutive positions), so each k-mer row of the
# [4**k, m] output is a sequence of constant runs.  Rows are built a block of B positions at a
# time in a [4**k, B + _SCRATCH_PAD] scratch that stays in the L2 cache: ``start[j]`` is where
# row j's current run began in the block; when count j changes at block offset r,
# ``scratch[j, start[j]:r]`` is filled with the old count (_fill_run: a length rounded up to 64
# entries, which LLVM's loop vectoriser turns into whole 256-bit stores; the pad takes the
# overshoot) and the run restarts at r.  At the end of a block every run is closed and each
# row's B entries are copied into the output in one contiguous run (_close_block).  A step
# that changes many k-mers (disjoint or distant windows) closes every row's run at once.
# Measured, k = 3, one core: 38-56 M positions/s from 1 k to 100 k positions, 24 M at 2-5 M
# (where zeroing the fresh output pages costs as much as writing them).  (Copying each
# position's table into a [B, 4**k] scratch and transposing it cost two scattered moves per
# entry: 28 M/s at 100 k, 10 M/s at 5 M; writing runs straight into the output kept 4**k write
# streams open and fell to half speed once the output left the caches.  Note that numba
# leaves LLVM's SLP vectoriser off: a fixed-length inner loop of stores is unrolled into
# scalar stores, so fills are written as one loop of runtime length.)
#: Dense scratch budget in bytes (B = this / (2 * 4**k), at most _DENSE_BLOCK_MAX, at least 32).
_DENSE_SCRATCH_BYTES = 1 << 18
_DENSE_BLOCK_MAX = 2048
#: Entries of room past each scratch row's B entries (_fill_run's overshoot, < 64).
_SCRATCH_PAD = 64
#: Sparse rows for ``4**k <= _SCAN_MAX`` (k <= 4) are read off the count table by scanning it
#: (all 64 ids are present in ~97% of 500-nt windows at k = 3: two vectorised copies);
#: larger k merge the previous row with the few k-mers that changed.
_SCAN_MAX = 256
#: Larger k scan a position's table too when ``4**k <= _SCAN_PER_CHANGE * changes + 3/4 *
#: (previous row's size)``: sparse or unsorted positions change many k-mers per step.
_SCAN_PER_CHANGE = 64


@kernel
def _fill_run(row, s, e, c):
    """row[s:e] = c, the length rounded up to 64 entries (one vectorised loop, no scalar
    remainder): ``row`` must have 63 entries of room past ``e`` (the scratch rows' pad); the
    overshoot lands where the row's later runs are written, after it."""
    seg = row[s:s + (((e - s) + 63) >> 6 << 6)]
    for t in range(seg.shape[0]):
        seg[t] = c


@kernel
def _close_block(scratch, start, counts, dense, i0, r):
    """Close every row's run at block offset ``r``, copy the block's ``r`` columns into
    ``dense[:, i0:i0 + r]`` row by row and restart every run at offset 0."""
    for j in range(scratch.shape[0]):
        _fill_run(scratch[j], start[j], r, counts[j])
        start[j] = 0
        src = scratch[j, :r]
        dst = dense[j, i0:i0 + r]
        for t in range(r):
            dst[t] = src[t]


@kernel
def _kmer_ids(codes, k, span_lo, ids):
    """ids[s] = rank of the k-mer starting at codes[span_lo + s], or -1 if it holds an N."""
    mask = (1 << (2 * k)) - 1
    code = 0
    run = 0
    stop = span_lo + ids.shape[0] + k - 1 if ids.shape[0] > 0 else span_lo  # never past codes' end
    for t in range(span_lo, stop):
        c = np.int64(codes[t])
        if c >= 4:
            run = 0
            code = 0
        else:
            code = ((code << 2) | c) & mask
            run += 1
        s = t - span_lo - k + 1
        if s >= 0:
            ids[s] = code if run >= k else -1


@kernel
def _dense_kernel(k, positions, left, right, n, span_lo, ids, counts, start, scratch, dense):
    """Dense counts of every position into ``dense`` [4**k, m], as runs a block at a time
    (see the note above; ``counts`` and ``start`` all-zero on entry, ``ids`` from _kmer_ids).
    Any order of positions is handled; sorted, consecutive positions take the common step."""
    m = positions.shape[0]
    K = counts.shape[0]
    B = scratch.shape[1] - _SCRATCH_PAD
    i0 = 0
    cur_a = 0
    cur_b = 0  # current window's k-mer starts, as [cur_a, cur_b) indices into ids
    for i in range(m):
        off = i - i0
        if off == B:
            _close_block(scratch, start, counts, dense, i0, B)
            i0 = i
            off = 0
        p = positions[i]
        a = (p - left if p > left else 0) - span_lo
        b = (p + right + 1 if p + right + 1 < n else n) - span_lo - k + 1
        if b < a:
            b = a
        if a == cur_a + 1 and b == cur_b + 1 and cur_b > cur_a:
            # the common step: one k-mer leaves, one enters; close their rows' runs first
            j = ids[cur_a]
            if j >= 0:
                if start[j] < off:
                    _fill_run(scratch[j], start[j], off, counts[j])
                    start[j] = off
                counts[j] -= 1
            j = ids[cur_b]
            if j >= 0:
                if start[j] < off:
                    _fill_run(scratch[j], start[j], off, counts[j])
                    start[j] = off
                counts[j] += 1
        else:
            disjoint = (b if b < cur_b else cur_b) <= (a if a > cur_a else cur_a)
            moved = (b - a) + (cur_b - cur_a) if disjoint else (
                (a - cur_a if a > cur_a else cur_a - a) + (b - cur_b if b > cur_b else cur_b - b))
            # close the runs of the k-mers that change (track), or of every row when more
            # than K / 2 window ends move
            track = 2 * moved <= K
            if not track:
                for j in range(K):
                    _fill_run(scratch[j], start[j], off, counts[j])
                    start[j] = off
                if disjoint:  # start from an empty table
                    counts[:] = 0
                    cur_a = a
                    cur_b = a
            # slide [cur_a, cur_b) -> [a, b): remove old-minus-new, add new-minus-old
            for part in range(4):
                if part == 0:
                    s, e = cur_a, (cur_b if cur_b < a else a)
                elif part == 1:
                    s, e = (b if b > cur_a else cur_a), cur_b
                elif part == 2:
                    s, e = a, (b if b < cur_a else cur_a)
                else:
                    s, e = (a if a > cur_b else cur_b), b
                for t in range(s, e):
                    j = ids[t]
                    if j >= 0:
                        if track and start[j] < off:
                            _fill_run(scratch[j], start[j], off, counts[j])
                            start[j] = off
                        if part >= 2:
                            counts[j] += 1
                        else:
                            counts[j] -= 1
        cur_a = a
        cur_b = b
    _close_block(scratch, start, counts, dense, i0, m - i0)


@kernel
def _kmer_kernel(codes, k, positions, left, right, mode, span_lo, ids, counts, touched,
                 indptr, out_ids, out_cnt):
    """One sweep over ``positions`` with a sliding k-mer count table (sparse output).

    mode 3: fill indptr, out_ids and out_cnt in one sweep (4**k <= _SCAN_MAX); mode 1: fill
    indptr (CSR row sizes); mode 2: fill out_ids and out_cnt (needs indptr and the ids computed by
    mode 1).  ``counts`` must be all-zero on entry and is left all-zero on exit in modes 1
    and 2.  Any order of positions is handled (the window update below is general); sorted
    positions are fastest.  (Helpers are written inline: numba's ``inline="always"`` pass
    alone cost ~0.1 s of compile time.)
    """
    n = codes.shape[0]
    m = positions.shape[0]
    K = counts.shape[0]
    if mode != _SPARSE_FILL:
        _kmer_ids(codes, k, span_lo, ids)
    record = mode == _SPARSE_FILL and K > _SCAN_MAX  # mode 2 may merge: record changed ids
    distinct = 0
    prev0 = 0
    prev1 = 0  # mode 2 (merge): the previous row is out[prev0:prev1]
    cur_a = 0
    cur_b = 0  # current window's k-mer starts, as [cur_a, cur_b) indices into ids
    for i in range(m):
        p = positions[i]
        # (ternaries instead of min/max: each builtin min/max call site costs compile time)
        a = (p - left if p > left else 0) - span_lo
        b = (p + right + 1 if p + right + 1 < n else n) - span_lo - k + 1
        if b < a:
            b = a
        nt = 0
        if a == cur_a + 1 and b == cur_b + 1 and cur_b > cur_a and not record:
            # the common step (sorted, consecutive positions): one k-mer leaves, one enters
            # (a merge, mode 2 with 4**k > _SCAN_MAX, costs far more than this saves)
            j = ids[cur_a]
            if j >= 0:
                c = counts[j]
                counts[j] = c - 1
                distinct -= c == 1
            j = ids[cur_b]
            if j >= 0:
                c = counts[j]
                counts[j] = c + 1
                distinct += c == 0
        else:
            disjoint = (b if b < cur_b else cur_b) <= (a if a > cur_a else cur_a)
            if disjoint and not record and cur_b - cur_a > K:
                # disjoint windows and clearing the table is cheaper than removing
                counts[:] = 0
                distinct = 0
                cur_a = a
                cur_b = a
            elif disjoint and record:
                # disjoint windows (unsorted or sparse positions): clear the old window and
                # build the row from the new one alone (merge against an empty previous row)
                for t in range(cur_a, cur_b):
                    if ids[t] >= 0:
                        counts[ids[t]] = 0
                distinct = 0
                cur_a = a
                cur_b = a
                prev1 = prev0
            # slide [cur_a, cur_b) -> [a, b): remove old-minus-new, add new-minus-old (each at
            # most two intervals, for any two windows); count distinct changes and (merge)
            # record the changed ids.  (One loop body for the four parts: a loop per part
            # compiled to ~600 more LLVM instructions and ran no faster.)
            for part in range(4):
                if part == 0:
                    s, e = cur_a, (cur_b if cur_b < a else a)
                elif part == 1:
                    s, e = (b if b > cur_a else cur_a), cur_b
                elif part == 2:
                    s, e = a, (b if b < cur_a else cur_a)
                else:
                    s, e = (a if a > cur_b else cur_b), b
                for t in range(s, e):
                    j = ids[t]
                    if j >= 0:
                        c = counts[j]
                        if part >= 2:
                            counts[j] = c + 1
                            distinct += c == 0
                        else:
                            counts[j] = c - 1
                            distinct -= c == 1
                        if record:
                            touched[nt] = j
                            nt += 1
        cur_a = a
        cur_b = b
        if mode == _SPARSE_COUNT:
            indptr[i + 1] = indptr[i] + distinct
        elif not record or (K <= nt * _SCAN_PER_CHANGE + ((prev1 - prev0) * 3 >> 2)
                            and indptr[i] + K <= out_ids.shape[0]):
            # scan when that is cheaper than merging (measured: ~0.7 ns per table entry,
            # vs ~0.5 ns per entry copied plus ~70 ns per changed k-mer)
            dst = indptr[i]
            if distinct == K:  # every k-mer present: ids 0..K-1 (slice views vectorise)
                row_ids = out_ids[dst:dst + K]
                row_cnt = out_cnt[dst:dst + K]
                for j in range(K):
                    row_ids[j] = j
                    row_cnt[j] = counts[j]
            else:
                # branch-free compaction (always store, advance past non-zero counts only):
                # stores past the row's end are overwritten by the next rows, or land in the
                # K entries of slack the wrapper allocates past the last row (and trims)
                for j in range(K):
                    c = counts[j]
                    out_ids[dst] = j
                    out_cnt[dst] = c
                    dst += np.int64(c != 0)
            if mode == _SPARSE_ONE:
                indptr[i + 1] = indptr[i] + distinct
        else:
            # row i = row i-1 merged with the sorted, de-duplicated changed k-mers.
            # Shell sort of touched[:nt] (nt is ~2 for sorted, densely spaced positions).
            gap = 1
            while gap < nt // 3:
                gap = 3 * gap + 1
            while gap >= 1:
                for g in range(gap, nt):
                    x = touched[g]
                    h = g
                    while h >= gap and touched[h - gap] > x:
                        touched[h] = touched[h - gap]
                        h -= gap
                    touched[h] = x
                gap //= 3
            dst = indptr[i]
            src = prev0
            q = 0
            while True:
                if q < nt:
                    u = touched[q]
                    q += 1
                    if q < nt and touched[q] == u:
                        continue
                    lo = src  # lower bound of u in out_ids[src:prev1] (sorted)
                    hi = prev1
                    while lo < hi:
                        mid = (lo + hi) >> 1
                        if out_ids[mid] < u:
                            lo = mid + 1
                        else:
                            hi = mid
                    pos = lo
                else:
                    u = -1  # sentinel: copy the rest of the previous row
                    pos = prev1
                # copy the unchanged run out[src:pos] -> out[dst:...] (never overlapping);
                # 1-D slice views let LLVM vectorise the copies
                length = pos - src
                id_src = out_ids[src:pos]
                id_dst = out_ids[dst:dst + length]
                for r in range(length):
                    id_dst[r] = id_src[r]
                cn_src = out_cnt[src:pos]
                cn_dst = out_cnt[dst:dst + length]
                for r in range(length):
                    cn_dst[r] = cn_src[r]
                dst += length
                src = pos
                if u < 0:
                    break
                if src < prev1 and out_ids[src] == u:
                    src += 1  # replaced (or dropped) below
                if counts[u] > 0:
                    out_ids[dst] = u
                    out_cnt[dst] = counts[u]
                    dst += 1
        if record:
            prev0 = indptr[i]
            prev1 = indptr[i + 1]
    for t in range(cur_a, cur_b):  # back to all-zero for the next sweep
        if ids[t] >= 0:
            counts[ids[t]] = 0


def _run(codes, k, positions, left, right, sparse):
    """Allocate buffers (outside numba, see the compile-time note) and run the kernel."""
    n = codes.shape[0]
    m = positions.shape[0]
    K = 4**k
    span_lo = 0
    n_ids = 0
    if m:
        span_lo = max(0, int(positions.min()) - left)
        span_hi = min(n, int(positions.max()) + right + 1)
        n_ids = max(0, span_hi - span_lo - k + 1)
    ids = np.empty(n_ids, np.int32)
    counts = np.zeros(K, np.uint16)  # <= 65535 per window (checked by the wrapper)
    if not sparse:
        dense = np.empty((K, m), np.uint16)
        if m:
            block = max(32, min(_DENSE_BLOCK_MAX, _DENSE_SCRATCH_BYTES // (2 * K)))
            start = np.zeros(K, np.int64)  # where each row's current run began in the block
            scratch = np.empty((K, block + _SCRATCH_PAD), np.uint16)
            _kmer_ids(codes, k, span_lo, ids)
            _dense_kernel(k, positions, left, right, n, span_lo, ids, counts, start, scratch, dense)
        return dense
    touched = np.empty(2 * (left + right + 2) if K > _SCAN_MAX else 0, np.int32)
    indptr = np.zeros(m + 1, np.int64)
    out_ids = np.empty(0, np.int32)
    out_cnt = np.empty(0, np.uint16)
    if m:
        window = left + right + 2
        if K <= _SCAN_MAX:  # one sweep into the largest possible rows (+ K of scan slack)
            size = m * min(K, max(0, window - k)) + K
            out_ids = np.empty(size, np.int32)
            out_cnt = np.empty(size, np.uint16)
            _kmer_kernel(codes, k, positions, left, right, _SPARSE_ONE, span_lo, ids, counts,
                         touched, indptr, out_ids, out_cnt)
            nnz = int(indptr[m])
            slack = size - nnz
        else:
            _kmer_kernel(codes, k, positions, left, right, _SPARSE_COUNT, span_lo, ids, counts,
                         touched, indptr, out_ids, out_cnt)
            nnz = int(indptr[m])
            # + K entries of slack for the branch-free row scan, where a scan can happen (the
            # kernel scans only if the slack is there)
            slack = K if K <= (2 * _SCAN_PER_CHANGE + 1) * window else 0
            out_ids = np.empty(nnz + slack, np.int32)
            out_cnt = np.empty(nnz + slack, np.uint16)
            _kmer_kernel(codes, k, positions, left, right, _SPARSE_FILL, span_lo, ids, counts,
                         touched, indptr, out_ids, out_cnt)
        if slack:  # trim it in place (realloc, no copy; nothing else refers to the arrays)
            out_ids.resize(nnz, refcheck=False)
            out_cnt.resize(nnz, refcheck=False)
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
        k-mer length, ``1 <= k <= 12``; ``4**k * len(positions)`` must not exceed
        :data:`MAX_DENSE_ENTRIES` (2**31).
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
    codes, k, positions, left, right = _check_common(codes, k, positions, left, right, MAX_K)
    if (4**k) * max(1, positions.shape[0]) > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"dense output 4**{k} x {positions.shape[0]} exceeds {MAX_DENSE_ENTRIES} entries; "
            "use kmer_counts_sparse or fewer positions per call"
        )
    return _run(codes, k, positions, left, right, False)


def kmer_counts_sparse(codes, k, positions, left=250, right=249):
    """k-mer counts in a window around each position, in CSR form.

    Same windows and counting rule as :func:`kmer_counts`, for ``1 <= k <= 12``
    (:data:`MAX_K`).

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
    codes, k, positions, left, right = _check_common(codes, k, positions, left, right, MAX_K)
    return _run(codes, k, positions, left, right, True)
