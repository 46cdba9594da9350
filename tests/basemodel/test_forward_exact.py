"""The numpy/numba forward pass equals a plain float64 implementation of the same network."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bm_helpers import OSAI, random_codes, random_state_dict, reference_forward, write_fake_keras_h5

from fastbuild.basemodel import score_sequence
from fastbuild.basemodel.forward import ForwardPass, NumpyRunner, im2col_kernels
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
        for pairwise in (True, False):
            got = ForwardPass(threads, pairwise=pairwise).forward(net, codes)
            assert got.shape == (n, 3) and got.dtype == np.float32
            assert np.max(np.abs(got - want)) < TOL, (threads, pairwise)
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
