"""The numpy/numba forward pass equals a plain float64 implementation of the same network."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bm_helpers import OSAI, random_codes, random_state_dict, reference_forward, write_fake_keras_h5

from fastbuild.basemodel import score_sequence
from fastbuild.basemodel.forward import ForwardPass, NumpyRunner
from fastbuild.basemodel.forward_numba_fns import im2col_kernels
from fastbuild.basemodel.models import ModelSpec, load_openspliceai, load_spliceai, network_from_state_dict

TOL = 1e-4


@pytest.mark.parametrize("variant", ["spliceai", "openspliceai"])
@pytest.mark.parametrize("n_units", [4, 16])
def test_random_weights_match_reference(variant, n_units):
    eps, slope = (1e-3, 0.0) if variant == "spliceai" else (1e-5, 0.1)
    sd = random_state_dict(n_units, seed=n_units + (variant == "spliceai"))
    net = network_from_state_dict(sd, eps=eps, negative_slope=slope)
    flank = net.flank
    n = 1500 if n_units == 16 else 3000  # spans several blocks and both worker threads
    codes = random_codes(n + 2 * flank, seed=3)
    want = reference_forward(sd, codes, eps, slope)
    for threads in (1, 2):
        for pairwise, levels in ((True, 2), (True, 1), (False, 2)):
            for method in ("direct", "im2col"):
                got = ForwardPass(threads, pairwise=pairwise, method=method, levels=levels).forward(net, codes)
                assert got.shape == (n, 3) and got.dtype == np.float32
                assert np.max(np.abs(got - want)) < TOL, (threads, pairwise, method, levels)
    # variant parameters really matter (the test is sensitive to them)
    other = reference_forward(sd, codes, 1e-5 if eps == 1e-3 else 1e-3, 0.1 - slope)
    assert np.max(np.abs(other - want)) > 10 * TOL


def test_segmented_scoring_is_identical():
    sd = random_state_dict(4, seed=5)
    net = network_from_state_dict(sd, eps=1e-5, negative_slope=0.1)
    codes = random_codes(5000 + 2 * net.flank, seed=9)
    with NumpyRunner([net], threads=2) as runner:
        whole = runner.score_sequence(codes)
    with NumpyRunner([net], threads=1, segment=777) as runner:
        parts = runner.score_sequence(codes)
    assert np.max(np.abs(whole - parts)) < 1e-6


def test_sequence_too_short():
    from fastbuild.errors import FastbuildError

    net = network_from_state_dict(random_state_dict(4), eps=1e-5, negative_slope=0.1)
    assert score_sequence([net], random_codes(2 * net.flank)).shape == (0, 3)
    with pytest.raises(FastbuildError):
        score_sequence([net], random_codes(10))


def test_fake_keras_h5_matches_reference(tmp_path):
    paths = []
    for i in range(2):
        sdi = random_state_dict(4, seed=20 + i)
        write_fake_keras_h5(tmp_path / f"spliceai{i + 1}.h5", sdi)
        paths.append((tmp_path / f"spliceai{i + 1}.h5", sdi))
    model = load_spliceai([p for p, _ in paths])
    assert model.spec.activation == "relu" and model.spec.bn_epsilon == pytest.approx(1e-3)
    assert model.spec.flank == 40 and len(model.spec.files) == 2
    codes = random_codes(700 + 80, seed=4)
    want = np.mean([reference_forward(s, codes, 1e-3, 0.0) for _, s in paths], axis=0)
    got = NumpyRunner(model, threads=2).score_sequence(codes)
    assert np.max(np.abs(got - want)) < TOL


def test_real_openspliceai_80nt_checkpoints_match_reference():
    folder = OSAI / "arabidopsis" / "80nt"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder}")
    from fastbuild.basemodel.torchfile import load_state_dict

    model = load_openspliceai(folder)
    assert model.spec.flank == 40 and model.spec.negative_slope == 0.1 and model.spec.bn_epsilon == 1e-5
    assert len(model.networks) == 5
    codes = random_codes(4000 + 80, seed=8)
    files = sorted(folder.glob("*.pt"))
    want = np.mean([reference_forward(load_state_dict(p), codes, 1e-5, 0.1) for p in files], axis=0)
    got = NumpyRunner(model, threads=2).score_sequence(codes)
    assert np.max(np.abs(got - want)) < TOL


def test_model_spec_is_frozen_and_identity_stable():
    files = (("a.pt", "0" * 64), ("b.pt", "1" * 64))
    spec = ModelSpec("m", "openspliceai-torch", 40, "leaky_relu", 0.1, 1e-5, files=files)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.flank = 1
    swapped = ModelSpec("m2", "openspliceai-torch", 40, "leaky_relu", 0.1, 1e-5, files=files[::-1])
    assert spec.digest == swapped.digest
    assert spec.identity["channel_order"] == ["neither", "acceptor", "donor"]


@pytest.mark.parametrize("channels", [8, 32])
def test_channel_specialised_kernels(channels):
    """One kernel source, compiled per channel count: equals a numpy im2col, for any channel count."""
    act, pairs = im2col_kernels(channels)
    assert im2col_kernels(channels)[0] is act  # compiled once per channel count
    rng = np.random.default_rng(channels)
    src = rng.standard_normal((200, channels)).astype(np.float32)
    scale, shift = rng.uniform(0.5, 1.5, channels).astype(np.float32), rng.standard_normal(channels).astype(np.float32)
    slope = np.float32(0.1)
    width, dilation, start, nrows = 5, 3, 7, 40
    a = np.maximum(src * scale + shift, (src * scale + shift) * slope)
    dst = np.empty((nrows, width * channels), np.float32)
    act(src, start, nrows, width, dilation, scale, shift, slope, dst)
    want = np.concatenate([a[start + k * dilation : start + k * dilation + nrows] for k in range(width)], axis=1)
    assert np.array_equal(dst, want)
    n_even, n_groups = (width + 1) // 2, 4
    rows = n_groups * dilation
    a1, a2 = (np.empty((rows, n_even * channels), np.float32) for _ in range(2))
    a3 = np.empty((rows, (n_even - 1) * channels), np.float32)
    pairs(src, start, n_groups, dilation, n_even, scale, shift, slope, a1, a2, a3)
    for g in range(n_groups):
        for r in range(dilation):
            s = start + g * 2 * dilation + r
            u = [a[s + 2 * j * dilation] for j in range(n_even)]
            v = [a[s + (2 * j + 1) * dilation] for j in range(n_even)]
            p = g * dilation + r
            assert np.array_equal(a1[p], np.concatenate([u[j] - v[j] for j in range(n_even)]))
            assert np.array_equal(a2[p], np.concatenate(v))
            assert np.array_equal(a3[p], np.concatenate([u[j] - v[j - 1] for j in range(1, n_even)]))


# ---- the direct method (register-tiled FMA kernels) -----------------------------------------

from fastbuild.basemodel import forward_numba_fns as fw  # noqa: E402


def network_forward64(net, codes):
    """float64 forward pass of a folded :class:`Network` (valid convolutions, plain loops over
    taps): the reference for real weights, which come without a torch state dict."""
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    idx = np.minimum(np.asarray(codes, np.intp), 4)
    table = np.concatenate([f64(net.in_w) + f64(net.in_b), f64(net.in_b)[None]])
    x = table[idx]
    flank, n = net.flank, len(codes) - 2 * net.flank
    act = lambda v: np.where(v > 0, v, net.negative_slope * v)  # noqa: E731

    def conv(a, w, b, width, dil):
        m = a.shape[0] - (width - 1) * dil
        wk = f64(w).reshape(width, a.shape[1], -1)
        return sum(a[k * dil : k * dil + m] @ wk[k] for k in range(width)) + f64(b)

    skip = x[flank : flank + n] @ f64(net.skips[0][0]) + f64(net.skips[0][1])
    shrink = 0
    for ui, u in enumerate(net.units):
        h = act(conv(act(x * f64(u.bn1_scale) + f64(u.bn1_shift)), u.w1, u.b1, u.width, u.dilation))
        hf = u.half
        x = x[2 * hf : len(x) - 2 * hf] + conv(h, u.w2, u.b2, u.width, u.dilation)
        shrink += 2 * hf
        if ui + 1 in net.skips:
            ws, bs = net.skips[ui + 1]
            skip = skip + x[flank - shrink : flank - shrink + n] @ f64(ws) + f64(bs)
    logits = skip @ f64(net.out_w) + f64(net.out_b)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _conv64(src, s0, n, w, width, dil):
    wk = np.asarray(w, np.float64).reshape(width, src.shape[1], -1)
    return sum(src[s0 + k * dil : s0 + k * dil + n].astype(np.float64) @ wk[k] for k in range(width))


needs_direct = pytest.mark.skipif(not fw.direct_supported(32, 32), reason="direct kernels unavailable (JIT off)")


@needs_direct
@pytest.mark.parametrize("lanes", [8, 16])
@pytest.mark.parametrize(("c_in", "c_out"), [(32, 32), (8, 16), (4, 64)])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 37])
def test_direct_kernels_equal_float64(lanes, c_in, c_out, n):
    """Both epilogues, any tiling, both vector widths (8-lane code runs on AVX-512 hosts too)."""
    if not fw.direct_supported(c_in, c_out, lanes):
        pytest.skip("channel counts not supported at this vector width")
    rng = np.random.default_rng(n + c_in)
    width, dil, s0, o0 = 5, 3, 2, 1
    src = rng.standard_normal((n + (width - 1) * dil + s0 + 1, c_in)).astype(np.float32)
    w = (rng.standard_normal((width * c_in, c_out)) / np.sqrt(width * c_in)).astype(np.float32)
    bias, scale, shift = (rng.standard_normal(c_out).astype(np.float32) for _ in range(3))
    slope = np.float32(0.1)
    nvec = c_out // lanes
    geom, geom1 = fw.geometry(nvec, fw.tile_rows(nvec, lanes), lanes), fw.geometry(nvec, 1, lanes)
    want = _conv64(src, s0, n, w, width, dil) + bias
    out = np.full((n + o0, c_out), 7.0, np.float32)
    fw._conv_act_direct(src, s0, n, w, width, dil, bias, slope, out, o0, geom, geom1)
    np.testing.assert_allclose(out[o0:], np.maximum(want, 0.1 * want), rtol=0, atol=1e-5)
    assert np.all(out[:o0] == 7.0)
    x0 = rng.standard_normal((n + o0, c_out)).astype(np.float32)
    x, aout = x0.copy(), np.zeros_like(x0)
    fw._conv_res_direct(src, s0, n, w, width, dil, bias, slope, x, o0, geom, geom1, scale, shift, aout)
    xr = x0[o0:] + want
    np.testing.assert_allclose(x[o0:], xr, rtol=0, atol=1e-5)
    ar = xr * scale + shift
    np.testing.assert_allclose(aout[o0:], np.maximum(ar, 0.1 * ar), rtol=0, atol=1e-5)
    assert np.array_equal(x[:o0], x0[:o0])


@needs_direct
@pytest.mark.parametrize(("width", "dil", "rows"), [(3, 1, 1), (5, 4, 3), (11, 10, 5), (21, 7, 8), (41, 25, 8)])
@pytest.mark.parametrize("residual", [False, True])
def test_pairwise_direct_kernels_equal_float64(width, dil, rows, residual):
    """The pairwise form: groups of 2*dil rows, tiles of ``rows`` rows plus single rows."""
    from fastbuild.basemodel.models import pairwise_weights

    rng = np.random.default_rng(width * dil)
    c, groups, s0, o0 = 32, 3, 1, 2
    n = groups * 2 * dil
    src = rng.standard_normal((s0 + n + width * dil + 1, c)).astype(np.float32)
    w = (rng.standard_normal((width * c, c)) / np.sqrt(width * c)).astype(np.float32)
    bias, scale, shift = (rng.standard_normal(c).astype(np.float32) for _ in range(3))
    e, eo, o = pairwise_weights(w, width)
    d = np.empty_like(src)
    fw._diff_rows(src, 0, src.shape[0] - dil, dil, d)
    nvec = c // fw.VECTOR_WIDTH
    geom, geom1 = fw.geometry(nvec, rows), fw.geometry(nvec, 1)
    want = _conv64(src, s0, n, w, width, dil) + bias
    slope, taps = np.float32(0.0), (width + 1) // 2
    out = np.zeros((n + o0, c), np.float32)
    if residual:
        aout = np.zeros_like(out)
        fw._pairs_res_direct(src, d, s0, 0, groups, (eo, e, o), taps, dil, bias, slope, out, o0, geom, geom1, scale,
                             shift, aout)
        np.testing.assert_allclose(out[o0:], want, rtol=0, atol=1e-5)
        ar = want * scale + shift
        np.testing.assert_allclose(aout[o0:], np.maximum(ar, 0), rtol=0, atol=1e-5)
    else:
        fw._pairs_act_direct(src, d, s0, 0, groups, (eo, e, o), taps, dil, bias, slope, out, o0, geom, geom1)
        np.testing.assert_allclose(out[o0:], np.maximum(want, 0), rtol=0, atol=1e-5)


@needs_direct
@pytest.mark.parametrize(("width", "dil", "rows", "per"),
                         [(3, 1, 1, 1), (2, 3, 2, 2), (4, 2, 4, 1), (11, 1, 8, 2), (13, 3, 8, 5), (21, 10, 8, 2),
                          (41, 25, 8, 1), (41, 25, 8, 2)])
@pytest.mark.parametrize("residual", [False, True])
def test_two_level_pairwise_kernels_equal_float64(width, dil, rows, per, residual):
    """The two-level form: blocks of rows*4D rows by strided tiles, ``per`` blocks per chunk of
    difference streams (the last chunk short); even and odd widths. The chunk buffer starts
    NaN, so that a read of a stream row that was not computed shows."""
    from fastbuild.basemodel.models import quad_weights

    rng = np.random.default_rng(width * dil + per)
    c, blocks, s0, o0 = 32, 3, 1, 2
    block, reach = rows * 4 * dil, (width - 1) * dil
    n = blocks * block
    src = rng.standard_normal((s0 + n + reach, c)).astype(np.float32)
    w = (rng.standard_normal((width * c, c)) / np.sqrt(width * c)).astype(np.float32)
    bias, scale, shift = (rng.standard_normal(c).astype(np.float32) for _ in range(3))
    kq, taps = quad_weights(w, width)
    assert taps.sum() <= (9 * width + 27) // 4  # about 9W/4 taps per four rows, not 4W
    st = np.full((4, per * block + reach, c), np.nan, np.float32)
    nvec = c // fw.VECTOR_WIDTH
    geom = fw.geometry(nvec, rows)
    want = _conv64(src, s0, n, w, width, dil) + bias
    slope = np.float32(0.0)
    out = np.full((n + o0, c), 7.0, np.float32)
    if residual:
        out[o0:] = 0
        aout = np.zeros_like(out)
        fw._quad_res_direct(src, s0, 0, blocks, per, reach, kq, taps, dil, bias, slope, out, o0, geom, st, scale,
                            shift, aout)
        np.testing.assert_allclose(out[o0:], want, rtol=0, atol=1e-5)
        ar = want * scale + shift
        np.testing.assert_allclose(aout[o0:], np.maximum(ar, 0), rtol=0, atol=2e-5)
    else:
        fw._quad_act_direct(src, s0, 0, blocks, per, reach, kq, taps, dil, bias, slope, out, o0, geom, st)
        np.testing.assert_allclose(out[o0:], np.maximum(want, 0), rtol=0, atol=1e-5)
    assert np.all(out[:o0] == 7.0)


def test_quad_weights_rebuild_the_taps():
    """The nine tap sets recombine to the original taps (float64 sums, one rounding)."""
    from fastbuild.basemodel.models import quad_weights

    for width in (1, 2, 3, 4, 5, 11, 21, 41):
        w = np.random.default_rng(width).standard_normal((width * 4, 8)).astype(np.float32)
        kq, taps = quad_weights(w, width)
        sets = [kq[q, : taps[q] * 4].reshape(taps[q], 4, 8).astype(np.float64) for q in range(9)]
        want = w.reshape(width, 4, 8).astype(np.float64)
        # E = W[0::2] = (Q sets: Fe = E[0::2] = W[0::4], Fo = E[1::2] = W[2::4]); O = W[1::2] likewise
        assert np.allclose(sets[4], want[0::4]) and np.allclose(sets[5], want[2::4])
        assert np.allclose(sets[7], want[1::4]) and np.allclose(sets[8], want[3::4])
        for q, fe, fo in ((3, want[0::4], want[2::4]), (6, want[1::4], want[3::4])):
            fo = np.concatenate([fo, np.zeros((len(fe) - len(fo), 4, 8))])
            assert np.allclose(sets[q], fe + fo, atol=1e-6)


def test_levels_are_checked():
    from fastbuild.errors import FastbuildError

    with pytest.raises(FastbuildError, match="levels"):
        ForwardPass(1, levels=3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 21, 41, 1001])
def test_methods_agree_at_edge_lengths(threads, n):
    """direct (pairwise and plain) and im2col give the same scores at any length; direct
    results do not depend on the thread count."""
    sd = random_state_dict(16, seed=2)
    net = network_from_state_dict(sd, eps=1e-5, negative_slope=0.1)
    codes = random_codes(n + 2 * net.flank, seed=n)
    ref = ForwardPass(1, method="im2col").forward(net, codes)
    for pairwise, levels in ((True, 2), (True, 1), (False, 2)):
        fp = ForwardPass(threads, pairwise=pairwise, levels=levels)
        got = fp.forward(net, codes)
        assert got.shape == (n, 3)
        assert np.max(np.abs(got - ref)) < 1e-5
        assert np.array_equal(got, fp.forward(net, codes))  # the kept buffers do not leak between calls
        if threads == 2:
            assert np.array_equal(got, ForwardPass(1, pairwise=pairwise, levels=levels).forward(net, codes))


def test_direct_is_the_default_where_supported():
    net = network_from_state_dict(random_state_dict(4), eps=1e-5, negative_slope=0.1)
    fp = ForwardPass(1)
    assert fp.method_for(net) == ("direct" if fw.direct_supported(32, 32) else "im2col")
    assert ForwardPass(1, method="im2col").method_for(net) == "im2col"
    from fastbuild.errors import FastbuildError

    with pytest.raises(FastbuildError):
        ForwardPass(1, method="winograd")


def test_real_spliceai_weights_within_1e5_of_float64():
    """The shipped SpliceAI ensemble member 1, both methods, within 1e-5 of float64."""
    from fastbuild.basemodel import find_spliceai_weights
    from fastbuild.errors import FastbuildError

    try:
        paths = find_spliceai_weights()
        model = load_spliceai(paths[:1])
    except FastbuildError:
        pytest.skip("SpliceAI weights not installed")
    net = model.networks[0]
    codes = random_codes(3000 + 2 * net.flank, seed=11)
    want = network_forward64(net, codes)
    for method in ("direct", "im2col"):
        got = ForwardPass(2, method=method).forward(net, codes)
        assert np.max(np.abs(got - want)) < 1e-5, method


# ---- batched scoring: NumpyRunner.score_many, regions.score_regions / score_chunk -----------


@pytest.mark.parametrize("threads", [1, 2])
def test_score_many_equals_one_by_one(threads):
    """Bit for bit with the direct method (one engine per worker), whatever the lengths, the
    order and the thread count; empty and segmented sequences too."""
    from fastbuild.basemodel.forward_numba_fns import direct_supported

    nets = [network_from_state_dict(random_state_dict(4, seed=s), eps=1e-5, negative_slope=0.1) for s in (1, 2, 3)]
    flank = nets[0].flank
    lengths = [0, 1, 7, 8, 33, 500, 2000, 1, 64]
    seqs = [random_codes(n + 2 * flank, seed=i) for i, n in enumerate(lengths)]
    with NumpyRunner(nets, threads=threads, segment=1000) as runner:
        many = runner.score_many(seqs)
        assert runner.score_many([]) == []
        for s, got in zip(seqs, many, strict=True):
            want = runner.score_sequence(s)
            assert got.dtype == np.float32 and got.shape == want.shape
            if direct_supported(32, 32):
                assert np.array_equal(got, want)
            assert np.max(np.abs(got - want), initial=0.0) < 1e-6
        runner.engine.method = "im2col"  # the fallback method: within float32 rounding
        for got, want in zip(runner.score_many(seqs), many, strict=True):
            assert np.max(np.abs(got - want), initial=0.0) < 1e-6
    with pytest.raises(Exception, match="shorter than"):
        NumpyRunner(nets, threads=threads).score_many([random_codes(10)])


def _small_genome(tmp_path):
    from fastbuild.genome import Genome

    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGTN"), 9000, p=[0.24, 0.24, 0.24, 0.24, 0.04]))
    path = tmp_path / "g.fa"
    path.write_text(">c1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    return Genome(path)


def test_score_regions_and_chunk_batches_equal_score_region(tmp_path, monkeypatch):
    """score_regions / score_chunk (numpy runner: score_many in batches) give score_region's
    scores for every gene, both strands, genes at the contig ends, batch limits hit or not."""
    import polars as pl

    from fastbuild.basemodel import regions
    from fastbuild.basemodel.models import Model

    nets = [network_from_state_dict(random_state_dict(4, seed=s), eps=1e-5, negative_slope=0.1) for s in (4, 5)]
    model = Model(ModelSpec("t", "test", nets[0].flank, "leaky_relu", 0.1, 1e-5), nets)
    genome = _small_genome(tmp_path)
    ivs = [(1, 30, "+"), (100, 2100, "-"), (8990, 9000, "+"), (4000, 4001, "-"), (5, 5, "-")]
    with NumpyRunner(model, threads=2) as runner:
        want = [regions.score_region(genome, model, "c1", lo, hi, s, runner) for lo, hi, s in ivs]
        got = regions.score_regions(genome, model, "c1", ivs, runner)
        for g, w in zip(got, want, strict=True):
            assert np.max(np.abs(g - w), initial=0.0) < 1e-6 and g.shape == w.shape
        with pytest.raises(Exception, match="different model"):
            regions.score_regions(genome, Model(model.spec, nets[:1]), "c1", ivs, runner)
        chunk = pl.DataFrame({"gene_id": [f"g{i}" for i in range(len(ivs))], "chrom": ["c1"] * len(ivs),
                              "start": [lo for lo, _, _ in ivs], "end": [hi for _, hi, _ in ivs],
                              "strand": [s for _, _, s in ivs]})
        for batch in (10, 1_000_000):
            monkeypatch.setattr(regions, "BATCH_BASES", batch)
            calls = []
            frames = regions.score_chunk(genome, model, runner, chunk, 0, lambda g, n, c=calls: c.append((g, n)))
            assert sum(n for _, n in calls) == sum(hi - lo + 1 for lo, hi, _ in ivs) and len(calls) == len(ivs)
            for (gid, pos, sc), (lo, hi, _), w in zip(frames, ivs, want, strict=True):
                assert np.array_equal(pos, np.arange(lo, hi + 1)) and gid.startswith("g")
                assert np.max(np.abs(sc - w), initial=0.0) < 1e-6
    genome.close()
