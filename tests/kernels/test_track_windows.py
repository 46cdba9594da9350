"""track_window_means vs its twins: bit for bit against the running-total twin, close to direct means."""

import kernels_naive as naive
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels

SETTINGS = settings(max_examples=80, deadline=None)


def assert_bits_equal(got, expected, what=""):
    """Same float32 bits, NaN where the other has NaN."""
    got, expected = np.asarray(got, np.float32), np.asarray(expected, np.float32)
    assert got.shape == expected.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=what)
    both_nan = np.isnan(got) & np.isnan(expected)
    np.testing.assert_array_equal(np.where(both_nan, 0, got).view(np.uint32),
                                  np.where(both_nan, 0, expected).view(np.uint32), err_msg=what)


def check(values, positions, widths, first):
    got = kernels.track_window_means(values, positions, widths, first)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert got.shape == (2 * len(widths), len(positions))
    assert_bits_equal(got, naive.track_window_means(values, positions, widths, first))
    direct = naive.track_window_means_direct(values, positions, widths, first)
    np.testing.assert_allclose(got, direct.astype(np.float32), rtol=1e-5, atol=1e-5)
    return got


value = st.one_of(st.just(float("nan")), st.sampled_from([0.0, 1.0, -2.5, 1e-7]),
                  st.floats(-20, 20, width=32))


@st.composite
def window_case(draw):
    n = draw(st.integers(0, 70))
    values = np.array(draw(st.lists(value, min_size=n, max_size=n)), np.float32)
    if draw(st.booleans()):
        values = values.astype(np.float64)
    positions = draw(st.lists(st.integers(0, n - 1), max_size=30)) if n else []
    if draw(st.booleans()):
        positions = sorted(positions)
    first = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(first, 90), max_size=4))
    return values, np.array(positions, np.int64), widths, first


@SETTINGS
@example((np.zeros(0, np.float32), np.zeros(0, np.int64), [10, 50], 1))  # n = 0
@example((np.array([0.25], np.float32), np.array([0]), [1, 10], 1))  # n = 1: nothing either side
@example((np.full(20, np.nan, np.float32), np.array([0, 10, 19]), [1, 5, 50], 1))  # no data at all
@example((np.linspace(-3, 3, 40, dtype=np.float32), np.array([0, 39, 0, 39]), [1, 3, 50], 1))
@given(window_case())
def test_track_window_means_matches_naive(case):
    check(*case)


def test_track_window_means_edges():
    nan = np.nan
    x = np.array([1.0, nan, 3.0, 4.0, nan, 6.0], np.float32)
    got = check(x, np.array([0, 2, 5, 3]), [1, 2, 100], 1)
    # position 0: nothing upstream (NaN), downstream offset 1 is NaN, offsets 1..2 -> 3, 1..100 -> mean(3, 4, 6)
    np.testing.assert_array_equal(got[:, 0], np.array([nan, nan, nan, 3.0, nan, 13 / 3], np.float32))
    # position 2: up 1 is NaN (no data, not 0), up 2 -> 1, down 1 -> 4, down 2 -> 4 (offset 2 is NaN)
    np.testing.assert_array_equal(got[:, 1], np.array([nan, 4.0, 1.0, 4.0, 1.0, 5.0], np.float32))
    # position 5 (last): nothing downstream
    np.testing.assert_array_equal(got[:, 2], np.array([nan, nan, 4.0, nan, 8 / 3, nan], np.float32))
    # the position's own value never enters its means; first=2 skips the nearest neighbour too
    assert kernels.track_window_means(np.array([0, 100, 0], np.float32), [1], [1]).tolist() == [[0.0], [0.0]]
    assert np.isnan(kernels.track_window_means(np.array([5, 0, 5], np.float32), [1], [2], first=2)).all()
    empty = kernels.track_window_means(x, [], [1, 2])
    assert empty.shape == (4, 0) and empty.dtype == np.float32
    assert kernels.track_window_means(x, [1, 2], []).shape == (0, 2)


def test_track_window_means_inputs():
    rng = np.random.default_rng(1)
    v = rng.normal(size=500).astype(np.float32)
    v[rng.random(500) < 0.3] = np.nan
    pos = rng.integers(0, 500, 40)
    ref = kernels.track_window_means(v, pos, [10, 50, 250])
    ro = v.copy()
    ro.setflags(write=False)
    strided = np.empty(1000, np.float32)
    strided[::2] = v
    for values in (ro, strided[::2], list(v)):
        np.testing.assert_array_equal(kernels.track_window_means(values, pos.astype(np.int32), [10, 50, 250]), ref)
    as64 = kernels.track_window_means(v.astype(np.float64), pos, np.array([10, 50, 250], np.uint16))
    np.testing.assert_array_equal(as64, ref)  # float32 values are exact in float64
    ints = kernels.track_window_means(np.arange(10), [5], [2])
    assert ints[:, 0].tolist() == [3.5, 6.5]


def test_track_window_means_validation():
    v = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="1-D"):
        kernels.track_window_means(np.zeros((2, 10)), [1], [3])
    with pytest.raises(TypeError, match="real"):
        kernels.track_window_means(np.full(3, "a"), [1], [3])
    with pytest.raises(ValueError, match="infinite"):
        kernels.track_window_means(np.array([0.0, np.inf, 1.0]), [0], [3])
    with pytest.raises(TypeError, match="integer"):
        kernels.track_window_means(v, [1.5], [3])
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        kernels.track_window_means(v, [10], [3])
    with pytest.raises(ValueError, match="widths must lie in"):
        kernels.track_window_means(v, [1], [0])
    with pytest.raises(ValueError, match="widths must lie in"):
        kernels.track_window_means(v, [1], [3], first=4)
    with pytest.raises(ValueError, match="first must be >= 1"):
        kernels.track_window_means(v, [1], [3], first=0)
