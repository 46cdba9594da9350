"""nearest_site_distance, label_positions, downsample_mask vs twins."""

import kernels_naive as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels

SETTINGS = settings(max_examples=80, deadline=None)

ints = st.lists(st.integers(-50, 200), max_size=40).map(lambda x: np.array(x, np.int64))


@SETTINGS
@given(ints, ints, st.booleans())
def test_nearest_matches_naive(positions, sites, sort_pos):
    if sort_pos:
        positions = np.sort(positions)
    np.testing.assert_array_equal(kernels.nearest_site_distance(positions, sites),
                                  naive.nearest_site_distance(positions, sites))


def test_nearest_edges():
    assert kernels.nearest_site_distance([1, 2, 3], []).tolist() == [-1, -1, -1]
    assert kernels.nearest_site_distance([], [1]).shape == (0,)
    assert kernels.nearest_site_distance([5, 0, 9], [4]).tolist() == [1, 4, 5]  # single site
    assert kernels.nearest_site_distance(np.array([7, 3], np.int32), np.array([3, 3, 10], np.uint16)).tolist() == [3, 0]
    rng = np.random.default_rng(0)
    pos = np.arange(2_000_000)
    sites = rng.integers(0, 2_000_000, 3000)
    d = kernels.nearest_site_distance(pos, sites)
    sample = rng.integers(0, 2_000_000, 50)
    np.testing.assert_array_equal(d[sample], naive.nearest_site_distance(sample, sites))
    with pytest.raises(TypeError):
        kernels.nearest_site_distance([1.5], [1])


@st.composite
def label_case(draw):
    n = draw(st.integers(1, 60))
    probs = st.lists(st.sampled_from([0.0, 0.1, 0.49, 0.5, 0.51, 0.9, 1.0]), min_size=n, max_size=n)
    d = np.array(draw(probs), np.float32)
    a = np.array(draw(probs), np.float32)
    ds = np.array(draw(st.lists(st.integers(0, n - 1), max_size=6)), np.int64)
    as_ = np.array(draw(st.lists(st.integers(0, n - 1), max_size=6)), np.int64)
    thr = draw(st.sampled_from([0.5, 0.1, 0.95]))
    window = draw(st.integers(0, 4))
    return d, a, ds, as_, thr, window


@SETTINGS
@given(label_case())
def test_labels_match_naive(case):
    d, a, ds, as_, thr, window = case
    pred, splice = kernels.label_positions(d, a, ds, as_, thr, window)
    e_pred, e_splice = naive.label_positions(d, a, ds, as_, thr, window)
    assert pred.dtype == np.int8 and splice.dtype == np.int8
    np.testing.assert_array_equal(splice, e_splice)
    np.testing.assert_array_equal(pred, e_pred)
    # float64 input gives the same labels
    p64 = kernels.label_positions(d.astype(np.float64), a.astype(np.float64), ds, as_, thr, window)
    np.testing.assert_array_equal(p64[0], pred)


def test_labels_edges():
    d = np.array([0.9, 0.0, 0.0, 0.0, 0.7], np.float32)
    a = np.zeros(5, np.float32)
    pred, splice = kernels.label_positions(d, a, [1], [])
    assert splice.tolist() == [0, 1, 0, 0, 0]
    assert pred.tolist() == [0, 1, 0, 0, 2]  # 0.9 at 0 is within window of site 1 -> TN, site TP
    pred, splice = kernels.label_positions(d, a, [3], [3])  # donor wins
    assert splice.tolist() == [0, 0, 0, 1, 0] and pred.tolist() == [2, 0, 0, 1, 0]
    pred, splice = kernels.label_positions(np.zeros(0, np.float32), np.zeros(0, np.float32), [], [])
    assert pred.shape == (0,)
    with pytest.raises(ValueError, match="donor_sites"):
        kernels.label_positions(d, a, [5], [])
    with pytest.raises(ValueError, match="acceptor_sites"):
        kernels.label_positions(d, a, [], [-1])
    with pytest.raises(ValueError, match="length"):
        kernels.label_positions(d, a[:3], [], [])
    with pytest.raises(ValueError):
        kernels.label_positions(d, a, [], [], window=-1)
    # big array, sample against the twin on a slice far from the ends
    rng = np.random.default_rng(0)
    n = 2_000_000
    d = rng.random(n, dtype=np.float32) ** 8
    a = rng.random(n, dtype=np.float32) ** 8
    ds = rng.integers(0, n, 2000)
    as_ = rng.integers(0, n, 2000)
    pred, splice = kernels.label_positions(d, a, ds, as_)
    lo, hi = 1_000_000, 1_002_000
    sub_ds = ds[(ds >= lo - 10) & (ds < hi + 10)] - lo
    sub_as = as_[(as_ >= lo - 10) & (as_ < hi + 10)] - lo
    # twin on a padded slice, compare the interior
    e_pred, e_splice = naive.label_positions(d[lo - 10:hi + 10], a[lo - 10:hi + 10], sub_ds + 10, sub_as + 10)
    np.testing.assert_array_equal(pred[lo:hi], e_pred[10:-10])
    np.testing.assert_array_equal(splice[lo:hi], e_splice[10:-10])


@st.composite
def ds_case(draw):
    n = draw(st.integers(0, 80))
    pred = np.array(draw(st.lists(st.sampled_from([0, 0, 0, 0, 1, 2, 3]), min_size=n, max_size=n)), np.int8)
    mp = np.array(draw(st.lists(st.sampled_from([0.0, 0.05, 0.15, 0.5]), min_size=n, max_size=n)), np.float32)
    dist = np.array(draw(st.lists(st.integers(-1, 200), min_size=n, max_size=n)), np.int64)
    ratio = draw(st.sampled_from([0.0, 0.5, 1.0, 3.0, 100.0]))
    seed = draw(st.one_of(st.integers(0, 10), st.just(2**64 - 1)))
    return pred, mp, dist, ratio, seed


@SETTINGS
@given(ds_case())
def test_downsample_matches_naive(case):
    pred, mp, dist, ratio, seed = case
    keep = kernels.downsample_mask(pred, mp, dist, easy_ratio=ratio, seed=seed)
    assert keep.dtype == np.bool_
    np.testing.assert_array_equal(keep, naive.downsample_mask(pred, mp, dist, easy_ratio=ratio, seed=seed))
    # the rules, independent of the twin
    assert keep[pred != 0].all()
    assert keep[(pred == 0) & (mp >= 0.15)].all()
    assert keep[(pred == 0) & (dist >= 0) & (dist <= 75)].all()
    easy = (pred == 0) & (mp < 0.15) & ~((dist >= 0) & (dist <= 75))
    assert keep[easy].sum() == min(easy.sum(), int(ratio * (pred != 0).sum()))


def test_downsample_deterministic_and_uniform():
    n = 20_000
    pred = np.zeros(n, np.int8)
    pred[:100] = 1
    mp = np.zeros(n, np.float32)
    dist = np.full(n, -1, np.int64)
    k1 = kernels.downsample_mask(pred, mp, dist, seed=7)
    k2 = kernels.downsample_mask(pred, mp, dist, seed=7)
    k3 = kernels.downsample_mask(pred, mp, dist, seed=8)
    np.testing.assert_array_equal(k1, k2)
    assert not np.array_equal(k1, k3)
    assert k1[100:].sum() == 50
    # pinned output: same inputs and seed give the same mask on any machine
    twin = naive.downsample_mask(pred, mp, dist, seed=7)
    assert np.flatnonzero(k1[100:])[:5].tolist() == np.flatnonzero(twin[100:])[:5].tolist()
    # roughly uniform: positions of kept TNs over many seeds cover both halves evenly
    hits = np.zeros(n, np.int64)
    for seed in range(200):
        hits += kernels.downsample_mask(pred, mp, dist, seed=seed)
    first, second = hits[100:10_050].sum(), hits[10_050:].sum()
    assert abs(first - second) < 0.1 * (first + second)
    with pytest.raises(ValueError):
        kernels.downsample_mask(pred, mp, dist, seed=-1)
    with pytest.raises(ValueError):
        kernels.downsample_mask(pred, mp, dist, seed=2**64)
    with pytest.raises(ValueError):
        kernels.downsample_mask(pred, mp[:5], dist)
    # int64 pred_type (e.g. 256 would wrap to 0 as int8) is treated as non-TN
    big = np.array([256, 0], np.int64)
    assert kernels.downsample_mask(big, np.zeros(2), np.array([-1, -1]), easy_ratio=0).tolist() == [True, False]


@st.composite
def strata_case(draw):
    pred, mp, dist, ratio, seed = draw(ds_case())
    n = pred.shape[0]
    floor = draw(st.sampled_from([0, 1, 3, 50]))
    forced = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool) if draw(st.booleans()) else None
    return pred, mp, dist, ratio, seed, floor, forced


@SETTINGS
@given(strata_case())
def test_downsample_strata_matches_naive(case):
    pred, mp, dist, ratio, seed, floor, forced = case
    keep, stratum = kernels.downsample_strata(pred, mp, dist, easy_ratio=ratio, seed=seed, easy_floor=floor,
                                              forced=forced)
    want_keep, want_stratum = naive.downsample_strata(pred, mp, dist, easy_ratio=ratio, seed=seed,
                                                      easy_floor=floor, forced=forced)
    np.testing.assert_array_equal(keep, want_keep)
    np.testing.assert_array_equal(stratum, want_stratum)
    assert stratum.dtype == np.int8
    # the rules, independent of the twin: strata 0-2 are kept, the easy sample has its exact size
    assert keep[stratum < 3].all()
    easy = stratum == 3
    n_non_tn = int((pred != 0).sum())
    want = min(int(easy.sum()), max(floor, int(ratio * n_non_tn) if n_non_tn else 0))
    assert keep[easy].sum() == want
    if forced is not None:
        assert (stratum[forced & (pred == 0)] == 1).all()


def test_easy_floor_keeps_rows_of_genes_without_errors():
    n = 1000
    pred = np.zeros(n, np.int8)
    mp = np.zeros(n, np.float32)
    dist = np.full(n, -1, np.int64)
    assert kernels.downsample_mask(pred, mp, dist, easy_ratio=1e9).sum() == 0  # no non-TN: ratio keeps none
    keep, stratum = kernels.downsample_strata(pred, mp, dist, easy_floor=25, seed=3)
    assert keep.sum() == 25 and (stratum == 3).all()
    assert kernels.downsample_strata(pred[:10], mp[:10], dist[:10], easy_floor=25)[0].all()
    with pytest.raises(ValueError):
        kernels.downsample_strata(pred, mp, dist, easy_floor=-1)
    with pytest.raises(ValueError):
        kernels.downsample_strata(pred, mp, dist, forced=np.zeros(3, bool))
    with pytest.raises(TypeError):
        kernels.downsample_strata(pred, mp, dist, forced=np.zeros(n, np.int8))


@st.composite
def peak_case(draw):
    n = draw(st.integers(0, 60))
    vals = draw(st.lists(st.sampled_from([0.0, 0.0005, 0.001, 0.002, 0.01, 0.3, float("nan")]),
                         min_size=n, max_size=n))
    return np.array(vals, np.float32), draw(st.integers(0, 12)), draw(st.sampled_from([0.0, 0.001, 0.01, 2.0]))


@SETTINGS
@given(peak_case())
def test_local_peaks_matches_naive(case):
    vals, radius, floor = case
    got = kernels.local_peaks(vals, radius, floor)
    np.testing.assert_array_equal(got, naive.local_peaks(vals, radius, floor))
    assert not got[np.isnan(vals)].any()


def test_local_peaks_edges():
    assert kernels.local_peaks(np.zeros(0, np.float32)).shape == (0,)
    # a float32 value against a float64 floor compares in float64, with or without the JIT
    f32 = np.array([0.01], np.float32)
    assert kernels.local_peaks(f32, 0, 0.01).tolist() == naive.local_peaks(f32, 0, 0.01).tolist() == [False]
    v = np.array([0.5, 0.1, 0.2, 0.2, 0.0, 0.9], np.float64)
    assert kernels.local_peaks(v, 1, 0.0).tolist() == [True, False, True, True, False, True]
    assert kernels.local_peaks(v, 10**12, 0.0).tolist() == [False] * 5 + [True]  # a huge radius: the global max
    with pytest.raises(ValueError):
        kernels.local_peaks(v, -1)
    with pytest.raises(ValueError):
        kernels.local_peaks(v, 2, float("nan"))
