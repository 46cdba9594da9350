"""encode, reverse_complement, kmer_counts(_sparse), gc_content, sequence_complexity vs twins."""

import kernels_naive as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels
from fastbuild_kernels import JIT_DISABLED

SETTINGS = settings(max_examples=60, deadline=None)
# Under NUMBA_DISABLE_JIT=1 the kernels run as Python: the larger k-mer cases get fewer examples
# and smaller inputs there (same code paths).
SETTINGS_RUNS = settings(max_examples=15 if JIT_DISABLED else 60, deadline=None)

codes_st = st.lists(st.integers(0, 4), min_size=0, max_size=120).map(lambda x: np.array(x, np.uint8))
acgt_heavy = st.lists(st.sampled_from([0, 1, 2, 3, 0, 1, 2, 3, 4]), min_size=1, max_size=120).map(
    lambda x: np.array(x, np.uint8)
)


@st.composite
def codes_and_positions(draw, min_n=1):
    codes = draw(acgt_heavy if min_n else codes_st)
    n = len(codes)
    positions = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=25)) if n else []
    if draw(st.booleans()):
        positions = sorted(positions)
    left = draw(st.integers(0, 30))
    right = draw(st.integers(0, 30))
    return codes, np.array(positions, np.int64), left, right


@st.composite
def runs_of_positions(draw, max_n=300, max_steps=300):
    """Sorted-ish positions as a walk: mostly +1 steps (the sliding fast path), repeats, small
    and large gaps (partly overlapping and disjoint windows), wrapping around the sequence end
    and sometimes a few swaps (unsorted); up to 301 positions (several dense blocks); sequences
    with N runs; windows from 0 to a few hundred bases (clipped at the ends)."""
    n = draw(st.integers(1, max_n))
    codes = np.array(draw(st.lists(st.sampled_from([0, 1, 2, 3, 0, 1, 2, 3, 4]), min_size=n, max_size=n)), np.uint8)
    for _ in range(draw(st.integers(0, 2))):  # runs of N
        s0 = draw(st.integers(0, n - 1))
        codes[s0:s0 + draw(st.integers(1, 40))] = 4
    m = draw(st.integers(0, max_steps))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 1, 1, 0, 2, 3, 9, 60, 250]), min_size=m, max_size=m))
    start = draw(st.integers(0, n - 1))
    positions = ((start + np.cumsum([0, *steps], dtype=np.int64)) % n).tolist()  # wrapping = a jump back
    for _ in range(draw(st.integers(0, 3)) if draw(st.booleans()) else 0):  # a few swaps
        i, j = draw(st.integers(0, len(positions) - 1)), draw(st.integers(0, len(positions) - 1))
        positions[i], positions[j] = positions[j], positions[i]
    wide = draw(st.booleans())
    left = draw(st.integers(0, 300 if wide else 20))
    right = draw(st.integers(0, 300 if wide else 20))
    return codes, np.array(positions, np.int64), left, right


def csr_to_dense(indptr, ids, cnts, k, m):
    out = np.zeros((4**k, m), np.uint16)
    rows = np.repeat(np.arange(m), np.diff(indptr))
    out[ids, rows] = cnts
    return out


def assert_sparse_equal(got, expected):
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


# ------------------------------------------------------------------------------ encoding
@SETTINGS
@given(st.text(alphabet="ACGTNacgtnRYx-*é", max_size=60))
def test_encode_matches_naive(s):
    expected = naive.encode(s)
    np.testing.assert_array_equal(kernels.encode(s), expected)
    if s.isascii():
        np.testing.assert_array_equal(kernels.encode(s.encode()), expected)
        np.testing.assert_array_equal(kernels.encode(np.frombuffer(s.encode(), np.uint8)), expected)


def test_encode_all_bytes_and_types():
    allb = bytes(range(256))
    out = kernels.encode(allb)
    assert out.dtype == np.uint8 and out.shape == (256,)
    np.testing.assert_array_equal(out, naive.encode(allb))
    assert kernels.encode("").shape == (0,)
    assert kernels.encode(bytearray(b"acgt")).tolist() == [0, 1, 2, 3]
    strided = np.frombuffer(b"AxCxGxTx", np.uint8)[::2]
    assert kernels.encode(strided).tolist() == [0, 1, 2, 3]
    with pytest.raises(TypeError):
        kernels.encode(np.zeros(3, np.int32))
    with pytest.raises(TypeError):
        kernels.encode(123)


@SETTINGS
@given(codes_st)
def test_reverse_complement_matches_naive(codes):
    np.testing.assert_array_equal(kernels.reverse_complement(codes), naive.reverse_complement(codes))
    np.testing.assert_array_equal(kernels.reverse_complement(kernels.reverse_complement(codes)), codes)


# --------------------------------------------------------------------------------- kmers
@SETTINGS
@given(codes_and_positions(), st.integers(1, 5))
def test_kmer_counts_match_naive(cp, k):
    codes, positions, left, right = cp
    expected = naive.kmer_counts(codes, k, positions, left, right)
    got = kernels.kmer_counts(codes, k, positions, left, right)
    assert got.dtype == np.uint16 and got.shape == (4**k, len(positions)) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


@SETTINGS
@given(codes_and_positions(), st.integers(1, 7))
def test_kmer_counts_sparse_match_naive(cp, k):
    codes, positions, left, right = cp
    e_ptr, e_ids, e_cnt = naive.kmer_counts_sparse(codes, k, positions, left, right)
    indptr, ids, cnt = kernels.kmer_counts_sparse(codes, k, positions, left, right)
    assert indptr.dtype == np.int64 and ids.dtype == np.int32 and cnt.dtype == np.uint16
    np.testing.assert_array_equal(indptr, e_ptr)
    np.testing.assert_array_equal(ids, e_ids)
    np.testing.assert_array_equal(cnt, e_cnt)


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_edge_cases(k):
    rng = np.random.default_rng(k)
    codes = rng.integers(0, 4, 300).astype(np.uint8)
    codes[100:160] = 4  # all-N stretch
    positions = np.array([0, 299, 150, 130, 130, 5, 299, 0, 120, 161, 40], np.int64)  # unsorted, repeated
    for left, right in [(250, 249), (0, 0), (3, 0), (0, 3), (1000, 1000), (2, 2)]:
        expected = naive.kmer_counts(codes, k, positions, left, right)
        np.testing.assert_array_equal(kernels.kmer_counts(codes, k, positions, left, right), expected)
        sp = kernels.kmer_counts_sparse(codes, k, positions, left, right)
        np.testing.assert_array_equal(csr_to_dense(*sp, k, len(positions)), expected)
    # empty positions / empty codes
    assert kernels.kmer_counts(codes, k, []).shape == (4**k, 0)
    ip, ids, cnt = kernels.kmer_counts_sparse(codes, k, np.array([], np.int64))
    assert ip.tolist() == [0] and ids.size == 0 and cnt.size == 0
    assert kernels.kmer_counts(np.zeros(0, np.uint8), k, []).shape == (4**k, 0)
    # k larger than the window: nothing counted
    if k > 1:
        assert kernels.kmer_counts(codes, k, [50], left=0, right=k - 2).sum() == 0
        assert kernels.kmer_counts_sparse(codes, k, [50, 10], left=0, right=k - 2)[0].tolist() == [0, 0, 0]


def test_kmer_all_n_and_large_k():
    codes = np.full(50, 4, np.uint8)
    assert kernels.kmer_counts(codes, 2, np.arange(50)).sum() == 0
    ip, _ids, _cnt = kernels.kmer_counts_sparse(codes, 12, np.arange(50))
    assert ip[-1] == 0
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 2000).astype(np.uint8)
    pos = rng.integers(0, 2000, 40)
    for k in (8, 12):
        e = naive.kmer_counts_sparse(codes, k, pos, 60, 59)
        g = kernels.kmer_counts_sparse(codes, k, pos, 60, 59)
        for a, b in zip(g, e, strict=True):
            np.testing.assert_array_equal(a, b)


def test_kmer_big_array_sample():
    """2-Mb sequence, all positions of a 20-kb stretch plus scattered ones; sample vs twin.
    (400 kb and 300 scattered positions when the kernels run as Python.)"""
    rng = np.random.default_rng(1)
    n = 400_000 if JIT_DISABLED else 2_000_000
    codes = rng.integers(0, 4, n).astype(np.uint8)
    codes[rng.integers(0, n, n // 400)] = 4
    codes[n // 2:n // 2 + 600] = 4
    scattered = rng.integers(0, n, 300 if JIT_DISABLED else 2000)
    pos = np.concatenate([np.arange(n // 2 - 10_000, n // 2 + 10_000), scattered, [0, n - 1]])
    dense = kernels.kmer_counts(codes, 3, pos)
    ip, ids, cnt = kernels.kmer_counts_sparse(codes, 6, pos)
    gc = kernels.gc_content(codes, pos)
    # the sparse form of k = 3 (rows read off the count table) is the dense one without zeros
    np.testing.assert_array_equal(csr_to_dense(*kernels.kmer_counts_sparse(codes, 3, pos), 3, len(pos)), dense)
    sample = [*rng.choice(len(pos), 25, replace=False).tolist(), len(pos) - 1, len(pos) - 2]
    for i in sample:
        p = int(pos[i])
        np.testing.assert_array_equal(dense[:, i], naive.kmer_counts(codes, 3, [p])[:, 0])
        _e_ptr, e_ids, e_cnt = naive.kmer_counts_sparse(codes, 6, [p])
        np.testing.assert_array_equal(ids[ip[i]:ip[i + 1]], e_ids)
        np.testing.assert_array_equal(cnt[ip[i]:ip[i + 1]], e_cnt)
        assert gc[i] == pytest.approx(naive.gc_content(codes, [p])[0], abs=1e-6)


@SETTINGS_RUNS
@given(runs_of_positions(), st.integers(1, 4))
def test_kmer_counts_runs_match_naive(cp, k):
    """Walks of positions (sliding fast path, gaps, repeats, swaps) across dense blocks."""
    codes, positions, left, right = cp
    expected = naive.kmer_counts(codes, k, positions, left, right)
    got = kernels.kmer_counts(codes, k, positions, left, right)
    assert got.shape == (4**k, len(positions)) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


@SETTINGS_RUNS
@given(runs_of_positions(), st.integers(1, 8))
def test_kmer_counts_sparse_runs_match_naive(cp, k):
    """Same walks, sparse form: k <= 4 scans the count table, larger k merge the previous
    row or scan, whichever is cheaper per step (both occur here: gaps change many k-mers)."""
    codes, positions, left, right = cp
    expected = naive.kmer_counts_sparse(codes, k, positions, left, right)
    assert_sparse_equal(kernels.kmer_counts_sparse(codes, k, positions, left, right), expected)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 9])
def test_kmer_dense_runs_edges(k):
    """Dense rows are written as runs (closed where a count changes, or all at once on a big
    jump, and at the end): m = 1, 2, 3 and longer walks, with windows clipped at both sequence
    ends, N runs and a repeated position."""
    if JIT_DISABLED and k >= 7:
        pytest.skip("large tables: JIT only (same code as k <= 6)")
    sizes = [1, 2, 3, 17, 129]
    if JIT_DISABLED:
        sizes = [1, 2, 17] if k <= 4 else [3]
    rng = np.random.default_rng(100 + k)
    for m in sizes:
        if m < 1:
            continue
        n = m + 20
        codes = rng.integers(0, 4, n).astype(np.uint8)
        codes[rng.integers(0, n, 3)] = 4
        codes[n // 2:n // 2 + 4] = 4
        pos = np.arange(4, 4 + m, dtype=np.int64)
        if m > 3:
            pos[m // 2] = pos[m // 2 - 1]  # a repeat
        pos[-1] = n - 1
        for left, right in ((6, 5), (0, 0)):
            expected = naive.kmer_counts(codes, k, pos, left, right)
            np.testing.assert_array_equal(kernels.kmer_counts(codes, k, pos, left, right), expected)
            if k <= 6:
                np.testing.assert_array_equal(
                    csr_to_dense(*kernels.kmer_counts_sparse(codes, k, pos, left, right), k, m), expected)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6])
def test_kmer_dense_tracked_and_flushed_steps(k):
    """Steps that move a few window ends (strides 2-3: the changed rows' runs are closed one by
    one) and steps that move many (jumps, backwards, disjoint: every row's run is closed)."""
    rng = np.random.default_rng(7 + k)
    n = 4000
    codes = rng.integers(0, 4, n).astype(np.uint8)
    codes[rng.integers(0, n, 15)] = 4
    steps = np.concatenate([np.ones(40), np.full(20, 2), np.full(10, 3), [300, -150, 1, 1, 900],
                            np.ones(25), [-2000], np.full(12, 5), [17, 1, 1]]).astype(np.int64)
    pos = np.clip(100 + np.cumsum(steps), 0, n - 1)
    for left, right in ((30, 29), (250, 249), (2, 0)):
        expected = naive.kmer_counts(codes, k, pos, left, right)
        np.testing.assert_array_equal(kernels.kmer_counts(codes, k, pos, left, right), expected)


@pytest.mark.parametrize("k", [4, 5, 6, 7, 8])
def test_kmer_sparse_wide_windows_scan_and_merge(k):
    """Windows longer than 4**k (k = 4, 5: the table is cleared between disjoint windows) and
    a mix of consecutive, gapped, disjoint, repeated and unsorted positions, so that rows are
    both merged (consecutive steps) and scanned (disjoint jumps change ~2 windows of k-mers)."""
    rng = np.random.default_rng(k)
    n = 3000 if JIT_DISABLED else 8000
    codes = rng.integers(0, 4, n).astype(np.uint8)
    codes[rng.integers(0, n, 20)] = 4
    codes[1000:1100] = 4
    pos = np.concatenate([np.arange(1500, 1530), [1530, 1530, 1540, 1600, 2900, 5, 2990, 2999, 1200],
                          rng.integers(0, n, 4), np.arange(n - 20, n)]).astype(np.int64)
    for left, right in ((700, 699), (250, 249)):
        expected = naive.kmer_counts_sparse(codes, k, pos, left, right)
        assert_sparse_equal(kernels.kmer_counts_sparse(codes, k, pos, left, right), expected)
        if k <= 5:
            dense = kernels.kmer_counts(codes, k, pos, left, right)
            np.testing.assert_array_equal(dense, csr_to_dense(*expected, k, len(pos)))


def test_kmer_readonly_inputs_and_dense_sparse_agree():
    """Read-only codes and positions (as Arrow hands them out); dense == sparse for k <= 5."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 5, 5000).astype(np.uint8)
    pos = np.sort(rng.integers(0, 5000, 700))
    codes.flags.writeable = False
    pos.flags.writeable = False
    for k in (1, 2, 3, 4, 5):
        dense = kernels.kmer_counts(codes, k, pos)
        np.testing.assert_array_equal(csr_to_dense(*kernels.kmer_counts_sparse(codes, k, pos), k, len(pos)), dense)
        for i in (0, 350, 699):
            np.testing.assert_array_equal(dense[:, i], naive.kmer_counts(codes, k, [pos[i]])[:, 0])


# --------------------------------------------------------------------------- composition
@SETTINGS
@given(codes_and_positions())
def test_composition_matches_naive(cp):
    codes, positions, left, right = cp
    gc = kernels.gc_content(codes, positions, left, right)
    h = kernels.sequence_complexity(codes, positions, left, right)
    assert gc.dtype == np.float32 and h.dtype == np.float32
    np.testing.assert_allclose(gc, naive.gc_content(codes, positions, left, right), atol=1e-6)
    np.testing.assert_allclose(h, naive.sequence_complexity(codes, positions, left, right), atol=1e-5)


def test_composition_all_n_window_is_zero():
    codes = np.array([0, 1, 4, 4, 4, 4, 4, 4, 4, 2], np.uint8)
    assert kernels.gc_content(codes, [5], 1, 1).tolist() == [0.0]
    assert kernels.sequence_complexity(codes, [5], 1, 1).tolist() == [0.0]
    assert kernels.sequence_complexity(np.array([0, 1, 2, 3], np.uint8), [1], 5, 5)[0] == pytest.approx(2.0)
