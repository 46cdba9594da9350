"""long_context vs its twins (bit for bit) and vs the numpy code it replaced in the builder."""

import kernels_naive as naive
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels

SETTINGS = settings(max_examples=80, deadline=None)
WIDTHS = (30, 100, 300, 1000, 3000)  # the builder's columns (fastbuild.builder.schema)
MAX_WIDTH = 50


def numpy_reference(donor, acceptor, kept):
    """The builder's long-range context before the kernel (rows.py, verbatim but for the names)."""
    n = donor.shape[0]
    out = []
    span = np.arange(3, MAX_WIDTH + 1)
    for arr in (donor, acceptor):
        c = np.concatenate([[0.0], np.cumsum(arr, dtype=np.float64)])
        for w in WIDTHS:
            out.append((c[np.maximum(0, kept - 2)] - c[np.maximum(0, kept - w)]).astype(np.float32))
            out.append((c[np.minimum(n, kept + w + 1)] - c[np.minimum(n, kept + 3)]).astype(np.float32))
        for idx in (kept[:, None] - span[None, :], kept[:, None] + span[None, :]):
            vals = np.where((idx >= 0) & (idx < n), arr[np.clip(idx, 0, max(n - 1, 0))], np.float32(0))
            out.append(vals.max(axis=1) if vals.size else np.zeros(0, np.float32))
    return out


def assert_bits_equal(got, expected, what=""):
    """Same float32 bits (NaN payloads aside)."""
    got, expected = np.asarray(got, np.float32), np.asarray(expected, np.float32)
    assert got.shape == expected.shape, what
    both_nan = np.isnan(got) & np.isnan(expected)
    np.testing.assert_array_equal(np.where(both_nan, 0, got).view(np.uint32),
                                  np.where(both_nan, 0, expected).view(np.uint32), err_msg=what)


def check(scores, positions, widths, max_width, first):
    got = kernels.long_context(scores, positions, widths, max_width, first)
    t = len(scores)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert got.shape == (t * (2 * len(widths) + 2), len(positions))
    assert_bits_equal(got, naive.long_context(scores, positions, widths, max_width, first))
    direct = naive.long_context_direct(scores, positions, widths, max_width, first)
    np.testing.assert_allclose(got, direct.astype(np.float32), rtol=1e-5, atol=1e-6)
    return got


prob = st.one_of(st.sampled_from([0.0, 1.0, 1e-7, 0.5, 1e-3]), st.floats(0, 1, width=32))


@st.composite
def long_case(draw):
    n = draw(st.integers(0, 70))
    t = draw(st.integers(0, 3))
    scores = np.array([draw(st.lists(prob, min_size=n, max_size=n)) for _ in range(t)], np.float32).reshape(t, n)
    if draw(st.booleans()):
        scores = scores.astype(np.float64)
    positions = draw(st.lists(st.integers(0, n - 1), max_size=30)) if n else []
    if draw(st.booleans()):
        positions = sorted(positions)
    first = draw(st.integers(1, 5))
    widths = draw(st.lists(st.integers(first, 90), max_size=5))
    max_width = draw(st.integers(first, 40))
    return scores, np.array(positions, np.int64), widths, max_width, first


@SETTINGS
@example((np.zeros((2, 0), np.float32), np.zeros(0, np.int64), [30, 100], 50, 3))  # n = 0
@example((np.array([[0.25], [0.5]], np.float32), np.array([0]), [3, 30], 50, 3))  # n = 1
@example((np.linspace(0, 1, 40, dtype=np.float32)[None, :], np.array([0, 39, 0, 39]), [3, 4, 50], 3, 3))
@given(long_case())
def test_long_context_matches_naive(case):
    check(*case)


def test_long_context_edges():
    x = np.array([[0.5, 0.25, 0.125, 1.0, 0.0625, 0.75]], np.float32)
    empty = kernels.long_context(x, [], [3, 4], 4)
    assert empty.shape == (6, 0) and empty.dtype == np.float32
    assert kernels.long_context(np.zeros((0, 5)), [1, 2], [3], 5).shape == (0, 2)
    got = check(x, np.array([0, 5, 3, 2]), [3, 4, 100], 4, 3)
    # position 0: nothing upstream (0), downstream offsets 3..W = x[3], x[3..4], x[3..5]
    assert got[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0625, 0.0, 1.8125, 0.0, 1.0]
    # position 5 (last): upstream only (the down windows lie wholly past the end: 0)
    assert got[:, 1].tolist() == [0.125, 0.0, 0.375, 0.0, 0.875, 0.0, 0.25, 0.0]
    # windows wholly past an end are 0, also for the maxima of negative scores
    neg = -np.ones((1, 4), np.float32)
    assert kernels.long_context(neg, [0], [3], 3)[:, 0].tolist() == [0.0, -1.0, 0.0, -1.0]
    assert kernels.long_context(neg, [0], [3], 4)[:, 0].tolist() == [0.0, -1.0, 0.0, 0.0]  # passes the end: 0
    inner = kernels.long_context(-np.ones((1, 20), np.float32), [10], [3], 5)  # max window inside the array
    assert inner[:, 0].tolist() == [-1.0, -1.0, -1.0, -1.0]
    nan = np.array([[0.1, np.nan, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]], np.float32)
    got = kernels.long_context(nan, [4, 7], [3], 4)
    assert np.isnan(got[2, 0]) and np.isnan(got[0, 0]) and got[3, 0] == np.float32(0.7)  # NaN propagates
    assert got[2, 1] == np.float32(0.4)  # offsets 3..4 before 7: no NaN in the max window
    assert np.isnan(got[0, 1])  # but the running total behind every later sum holds it (as numpy's cumsum)


@pytest.mark.parametrize("n", [1, 2, 60, 3000, 20_011])
def test_long_context_equals_the_builders_numpy_code_bit_for_bit(n):
    rng = np.random.default_rng(n)
    donor, acceptor = (rng.random(n) ** 12).astype(np.float32), (rng.random(n) ** 12).astype(np.float32)
    for kept in (np.flatnonzero(rng.random(n) < 0.4), np.arange(n), np.array([0, n - 1]), np.zeros(0, np.int64)):
        got = kernels.long_context(np.stack([donor, acceptor]), kept, WIDTHS, MAX_WIDTH)
        ref = numpy_reference(donor, acceptor, kept)
        assert len(ref) == got.shape[0] == 24
        for r, row in enumerate(ref):
            assert_bits_equal(got[r], row, f"n={n} row {r}")


def test_long_context_inputs():
    rng = np.random.default_rng(1)
    s = rng.random((2, 500)).astype(np.float32)
    pos = rng.integers(0, 500, 40)
    ref = kernels.long_context(s, pos, WIDTHS, MAX_WIDTH)
    ro = s.copy()
    ro.setflags(write=False)
    strided = np.empty((2, 1000), np.float32)
    strided[:, ::2] = s
    for scores in (ro, strided[:, ::2], [s[0], s[1]], (s[0], s[1])):
        np.testing.assert_array_equal(kernels.long_context(scores, pos.astype(np.int32), WIDTHS, MAX_WIDTH), ref)
    as64 = kernels.long_context(s.astype(np.float64), pos, np.array(WIDTHS, np.uint16), MAX_WIDTH)
    np.testing.assert_array_equal(as64, ref)  # float32 values are exact in float64
    assert s.flags.writeable and pos.flags.writeable


def test_long_context_validation():
    s = np.zeros((2, 10), np.float32)
    with pytest.raises(ValueError, match="2-D"):
        kernels.long_context(np.zeros(10), [1], [3], 5)
    with pytest.raises(TypeError, match="real"):
        kernels.long_context(np.full((1, 3), "a"), [1], [3], 5)
    with pytest.raises(TypeError, match="integer"):
        kernels.long_context(s, [1.5], [3], 5)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        kernels.long_context(s, [10], [3], 5)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        kernels.long_context(s, [-1], [3], 5)
    with pytest.raises(ValueError, match="widths must lie in"):
        kernels.long_context(s, [1], [2], 5)
    with pytest.raises(ValueError, match="widths must lie in"):
        kernels.long_context(s, [1], [3, 1 << 40], 5)
    with pytest.raises(ValueError, match="max_width must be >= 3"):
        kernels.long_context(s, [1], [3], 2)
    with pytest.raises(ValueError, match="first must be >= 1"):
        kernels.long_context(s, [1], [3], 5, first=0)
    with pytest.raises(TypeError, match="integer"):
        kernels.long_context(s, [1], [3], 5.0)
    with pytest.raises(ValueError, match="1-D"):
        kernels.long_context(s, [[1]], [3], 5)
