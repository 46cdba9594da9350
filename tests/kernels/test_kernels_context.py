"""context_features vs its twin."""

import kernels_naive as naive
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels

SETTINGS = settings(max_examples=60, deadline=None)

EXPECTED_NAMES = (
    ["donor_m2", "donor_m1", "donor_p1", "donor_p2", "acceptor_m2", "acceptor_m1", "acceptor_p1", "acceptor_p2"]
    + ["relative_donor_probability", "splice_probability", "donor_acceptor_diff", "splice_neither_diff",
       "donor_acceptor_logodds", "splice_neither_logodds", "probability_entropy"]
    + [f"{t}_{f}" for t in ("donor", "acceptor") for f in (
        "context_mean", "context_max", "context_asymmetry", "diff_m2", "diff_m1", "diff_p1", "diff_p2",
        "surge_ratio", "is_local_peak", "weighted_context", "peak_height_ratio", "second_derivative",
        "signal_strength", "context_diff_ratio")]
    + ["donor_acceptor_peak_ratio", "type_signal_difference", "score_difference_ratio", "signal_strength_ratio"]
)


def test_feature_names():
    assert kernels.CONTEXT_FEATURES == EXPECTED_NAMES
    assert len(set(kernels.CONTEXT_FEATURES)) == len(kernels.CONTEXT_FEATURES) == 47


LOG_ROWS = {"donor_acceptor_logodds", "splice_neither_logodds", "probability_entropy"}


def check(d, a, n):
    got = kernels.context_features(d, a, n)
    exp = naive.context_features(d, a, n)
    assert list(got) == kernels.CONTEXT_FEATURES
    for name in kernels.CONTEXT_FEATURES:
        g = got[name]
        assert g.dtype == np.float32 and g.flags.c_contiguous and g.shape == (len(d),)
        if len(d):
            # kernel: float64 math rounded to float32 once.  The log rows are differences of
            # logarithms (each within 1 ulp of libm's): allow ~1e-15 absolute cancellation error.
            atol = 1e-12 if name in LOG_ROWS else 1e-30
            np.testing.assert_allclose(g, exp[name].astype(np.float32), rtol=2e-6, atol=atol, err_msg=name)


prob = st.one_of(st.sampled_from([0.0, 1.0, 1e-12, 0.5, 1e-3, 0.001]), st.floats(0, 1, width=32))


@SETTINGS
@example(([0.0, 1e-12, 0.0, 0.0, 0.0], [0.0, 0.77154, 0.0, 0.0, 0.0], [0.0, 0.77154, 0.0, 0.0, 0.0]))
@given(st.integers(0, 12).flatmap(lambda n: st.tuples(*[st.lists(prob, min_size=n, max_size=n)] * 3)))
def test_context_matches_naive(arrs):
    d, a, n = (np.array(x, np.float32) for x in arrs)
    check(d, a, n)
    check(d.astype(np.float64), a.astype(np.float64), n.astype(np.float64))


def test_context_edges_and_layout():
    check(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))
    rng = np.random.default_rng(5)
    for n in (127, 128, 129, 300, 513):  # the kernel works in chunks of 128 positions
        p = rng.dirichlet([0.3, 0.3, 1.0], n)
        check(*(np.ascontiguousarray(p[:, i]).astype(np.float32) for i in range(3)))
        check(*(np.ascontiguousarray(p[:, i]) for i in range(3)))
    check(np.array([0.7], np.float32), np.array([0.2], np.float32), np.array([0.1], np.float32))
    rng = np.random.default_rng(0)
    p = rng.dirichlet([0.3, 0.3, 1.0], 2_000_000).astype(np.float32)
    d, a, n = (np.ascontiguousarray(p[:, i]) for i in range(3))
    got = kernels.context_features(d, a, n)
    first = got["donor_m2"]
    for name in kernels.CONTEXT_FEATURES:  # one buffer, 64-byte aligned contiguous rows
        g = got[name]
        assert g.flags.c_contiguous and g.dtype == np.float32 and g.shape == (len(d),)
        assert g.ctypes.data % 64 == 0 and g.base is first.base
    for lo, hi in [(0, 50), (1_000_000, 1_000_050), (len(d) - 50, len(d))]:
        exp = naive.context_features(d[lo:hi], a[lo:hi], n[lo:hi])
        for name in kernels.CONTEXT_FEATURES:
            g = got[name][lo:hi]
            e = exp[name].astype(np.float32)
            if lo and hi < len(d) and name.endswith(("_m2", "_m1", "_p1", "_p2")):
                continue  # the slice's own ends differ from the full array's neighbours
            sl = slice(2, -2) if (lo > 0 or hi < len(d)) else slice(None)
            atol = 1e-12 if name in LOG_ROWS else 1e-30
            np.testing.assert_allclose(g[sl], e[sl], rtol=2e-6, atol=atol, err_msg=name)
    # peak flag is 0/1
    assert set(np.unique(got["donor_is_local_peak"]).tolist()) <= {0.0, 1.0}


@given(st.integers(0, 300).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.integers(0, max(n - 1, 0)), max_size=40 if n else 0))),
    st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_context_matrix_is_the_features_at_positions(n_at, seed):
    """context_matrix(at=...) is, bit for bit, context_features gathered at those positions (any
    order, repeats, none), for float32 and float64 inputs."""
    n, at = n_at
    rng = np.random.default_rng(seed)
    p = rng.dirichlet([0.3, 0.3, 1.0], n) if n else np.zeros((0, 3))
    for dtype in (np.float32, np.float64):
        d, a, nn = (np.ascontiguousarray(p[:, i]).astype(dtype) for i in range(3))
        full = kernels.context_features(d, a, nn)
        idx = np.array(at, np.int64)
        got = kernels.context_matrix(d, a, nn, at=idx)
        assert got.shape == (len(kernels.CONTEXT_FEATURES), idx.size) and got.dtype == np.float32
        assert got.flags.c_contiguous
        for r, name in enumerate(kernels.CONTEXT_FEATURES):
            assert np.array_equal(got[r], full[name][idx], equal_nan=True), name
        whole = kernels.context_matrix(d, a, nn)
        assert whole.shape == (len(kernels.CONTEXT_FEATURES), n)
        assert all(np.array_equal(whole[r], full[name], equal_nan=True)
                   for r, name in enumerate(kernels.CONTEXT_FEATURES))


def test_context_matrix_refuses_positions_outside():
    import pytest

    p = np.full(10, 0.1, np.float32)
    with pytest.raises(ValueError, match=r"at must lie in \[0, 10\)"):
        kernels.context_matrix(p, p, p, at=[0, 10])
    with pytest.raises(ValueError, match="at must lie"):
        kernels.context_matrix(p, p, p, at=[-1])
    with pytest.raises(TypeError, match="integer"):
        kernels.context_matrix(p, p, p, at=[0.5])
