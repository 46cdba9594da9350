"""encode, reverse_complement, kmer_counts(_sparse), gc_content, sequence_complexity vs twins."""

import kernels_naive as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels

SETTINGS = settings(max_examples=60, deadline=None)

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


def csr_to_dense(indptr, ids, cnts, k, m):
    out = np.zeros((4**k, m), np.uint16)
    for i in range(m):
        out[ids[indptr[i]:indptr[i + 1]], i] = cnts[indptr[i]:indptr[i + 1]]
    return out


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
    """2-Mb sequence, all positions of a 20-kb stretch plus scattered ones; sample vs twin."""
    rng = np.random.default_rng(1)
    n = 2_000_000
    codes = rng.integers(0, 4, n).astype(np.uint8)
    codes[rng.integers(0, n, 5000)] = 4
    codes[1_000_000:1_000_600] = 4
    pos = np.concatenate([np.arange(990_000, 1_010_000), rng.integers(0, n, 2000), [0, n - 1]])
    dense = kernels.kmer_counts(codes, 3, pos)
    ip, ids, cnt = kernels.kmer_counts_sparse(codes, 6, pos)
    gc = kernels.gc_content(codes, pos)
    sample = [*rng.choice(len(pos), 25, replace=False).tolist(), len(pos) - 1, len(pos) - 2]
    for i in sample:
        p = int(pos[i])
        np.testing.assert_array_equal(dense[:, i], naive.kmer_counts(codes, 3, [p])[:, 0])
        _e_ptr, e_ids, e_cnt = naive.kmer_counts_sparse(codes, 6, [p])
        np.testing.assert_array_equal(ids[ip[i]:ip[i + 1]], e_ids)
        np.testing.assert_array_equal(cnt[ip[i]:ip[i + 1]], e_cnt)
        assert gc[i] == pytest.approx(naive.gc_content(codes, [p])[0], abs=1e-6)


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
