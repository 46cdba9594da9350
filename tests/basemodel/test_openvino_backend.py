"""The OpenVINO backend (and every other engine) equals a float64 reference within 1e-5.

Lengths are chosen to hit every bucket boundary of the runner's compiled lengths (1, b-1, b,
b+1, several segments); sequences carry N. Skipped as a whole when openvino is not installed.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from bm_helpers import OSAI, random_codes, random_state_dict, reference_forward

pytest.importorskip("openvino", reason="openvino not installed (pip install 'fastbuild-splice[openvino]')")
pytest.importorskip("onnx", reason="onnx not installed (pip install 'fastbuild-splice[openvino]')")

from fastbuild.basemodel import BACKENDS, make_runner, score_sequence
from fastbuild.basemodel.backends import AUTO_ORDER, DEFAULT_BACKEND, ENGINES, check_backend, engine_available
from fastbuild.basemodel.models import load_openspliceai, network_from_state_dict
from fastbuild.basemodel.openvino_backend import OpenVinoRunner, length_buckets, plan_buckets
from fastbuild.errors import FastbuildError

TOL = 1e-5
FAMILIES = {"spliceai": (1e-3, 0.0), "openspliceai": (1e-5, 0.1)}


def _ensemble(variant, n_units, members=2, seed=0):
    """(networks, state dicts, eps, slope) of a random ensemble."""
    eps, slope = FAMILIES[variant]
    sds = [random_state_dict(n_units, seed=seed + i) for i in range(members)]
    return [network_from_state_dict(sd, eps=eps, negative_slope=slope) for sd in sds], sds, eps, slope


def _reference(sds, codes, eps, slope):
    return np.mean([reference_forward(sd, codes, eps, slope) for sd in sds], axis=0)


def _boundary_lengths(buckets):
    """1, b-1, b, b+1 for every bucket, and a length of several full segments plus a tail."""
    out = {1, 2 * buckets[-1] + buckets[0] // 2}
    for b in buckets:
        out |= {b - 1, b, b + 1}
    return sorted(n for n in out if n >= 1)


@pytest.fixture(scope="module")
def deep_ensemble():
    """A 2-member, 16-unit (10000-nt context) OpenSpliceAI-like ensemble, a sequence with 5% N
    and its float64 reference scores (computed once: output i depends on codes[i : i+2*flank+1]
    only, so every prefix's reference is a prefix of these)."""
    nets, sds, eps, slope = _ensemble("openspliceai", 16, seed=23)
    codes = random_codes(2 * 1000 + 125 + 2 * nets[0].flank, seed=16, n_frac=0.05)
    return nets, codes, _reference(sds, codes, eps, slope)


def _check_boundaries(runner, codes, want):
    flank = runner.flank
    lengths = _boundary_lengths(runner.buckets)
    assert max(lengths) <= want.shape[0]
    for n in lengths:
        got = runner.score_sequence(codes[: n + 2 * flank])
        assert got.shape == (n, 3) and got.dtype == np.float32
        assert np.max(np.abs(got - want[:n])) < TOL, n
    assert 0 < len(runner.compiled_buckets()) <= runner.max_compiled
    assert runner.score_sequence(codes[: 2 * flank]).shape == (0, 3)
    with pytest.raises(FastbuildError, match="shorter"):
        runner.score_sequence(codes[:10])


def test_every_bucket_boundary_matches_float64_reference(deep_ensemble):
    nets, codes, want = deep_ensemble
    with OpenVinoRunner(nets, threads=2, segment=1000, min_bucket=250) as runner:
        assert runner.buckets == length_buckets(1000, 1, 250) == [250, 500, 1000]
        assert _boundary_lengths(runner.buckets)[-1] == 2125  # two full segments and a tail
        _check_boundaries(runner, codes, want)
    with pytest.raises(FastbuildError, match="closed"):
        runner.score_sequence(codes)


def test_small_ensemble_and_relu_family_buckets():
    nets, sds, eps, slope = _ensemble("spliceai", 4, seed=11)  # 80-nt context, ReLU, eps 1e-3
    codes = random_codes(2 * 4000 + 500 + 2 * nets[0].flank, seed=4, n_frac=0.05)
    with OpenVinoRunner(nets, threads=2, segment=4000, min_bucket=1000) as runner:
        assert runner.buckets == [1000, 2000, 4000]
        _check_boundaries(runner, codes, _reference(sds, codes, eps, slope))


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_matches_float64_reference(engine, deep_ensemble):
    if not engine_available(engine):
        pytest.skip(f"{engine} not installed")
    nets, codes, want = deep_ensemble
    n = 1234
    with make_runner(nets, engine, threads=2) as runner:
        assert runner.backend == engine
        got = runner.score_sequence(codes[: n + 2 * nets[0].flank])
    assert np.max(np.abs(got - want[:n])) < TOL


def test_compiled_cache_is_bounded_and_precision_explicit():
    nets, _, _, _ = _ensemble("spliceai", 4, members=1)
    codes = random_codes(5000 + 2 * nets[0].flank, seed=2)
    with OpenVinoRunner(nets, threads=1, segment=4000, min_bucket=1000, max_compiled=2) as runner:
        assert (runner.backend, runner.precision, runner.threads) == ("openvino", "float32", 1)
        for n in (900, 1900, 3900, 1900):
            runner.score_sequence(codes[: n + 2 * nets[0].flank])
        assert runner.compiled_buckets() == [4000, 2000]  # least recently used first; 1000 dropped
        compiled = runner._compiled[2000][0]
        # f32 set explicitly: OpenVINO would default to bf16 on CPUs with AVX-512-BF16 / AMX
        assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'float32'>", "f32")
        assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1


def test_bf16_precision_is_reported_and_close():
    nets, sds, eps, slope = _ensemble("openspliceai", 4, members=1)
    codes = random_codes(700 + 2 * nets[0].flank, seed=5)
    with make_runner(nets, "auto", threads=2, precision="bf16") as runner:
        assert (runner.backend, runner.precision) == ("openvino", "bf16")
        got = runner.score_sequence(codes)
    assert np.max(np.abs(got - _reference(sds, codes, eps, slope))) < 0.05  # bf16: close, not exact
    with pytest.raises(FastbuildError, match="unknown precision"):
        OpenVinoRunner(nets, precision="fp8")
    with pytest.raises(FastbuildError, match="needs the openvino backend"):
        make_runner(nets, "numpy", precision="bf16")


def test_auto_picks_numpy_and_accepts_any_runner():
    """The "auto" backend runs the engine measured fastest (numpy, with openvino installed too)."""
    nets, sds, eps, slope = _ensemble("spliceai", 4, members=1)
    assert DEFAULT_BACKEND == "auto" and BACKENDS == ("auto", "numpy", "onnx", "openvino", "torch")
    assert AUTO_ORDER[0] == "numpy" and check_backend("auto") == "numpy"
    assert check_backend("auto", precision="bf16") == "openvino"  # bf16 runs on openvino only
    codes = random_codes(300 + 2 * nets[0].flank, seed=6)
    with make_runner(nets) as runner:
        assert runner.backend == "numpy"
    with make_runner(nets, "openvino") as runner:
        assert isinstance(runner, OpenVinoRunner) and runner.backend == "openvino"
        # "auto" accepts the runner of any engine; another engine's name is an error
        assert np.max(np.abs(score_sequence(nets, codes, backend="auto", runner=runner)
                             - _reference(sds, codes, eps, slope))) < TOL
        with pytest.raises(FastbuildError, match="runner given runs 'openvino'"):
            score_sequence(nets, codes, backend="numpy", runner=runner)
    assert score_sequence(nets, codes).shape == (300, 3)


def test_missing_openvino_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import fails as if not installed
    nets, _, _, _ = _ensemble("spliceai", 4, members=1)
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[openvino\]"):
        make_runner(nets, "openvino")
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[openvino\]"):
        OpenVinoRunner(nets)
    assert not engine_available("openvino") and check_backend("auto") == "numpy"
    with make_runner(nets) as runner:
        assert runner.backend == check_backend("auto")


@pytest.mark.parametrize(("folder", "members", "lengths"),
                         [("80nt", 5, [1, 249, 250, 251, 499, 500, 501, 1001]), ("10000nt", 1, [1, 251])])
def test_real_openspliceai_checkpoints_match_float64_reference(folder, members, lengths):
    path = OSAI / "arabidopsis" / folder
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} (../shared is absent)")
    from fastbuild.basemodel.torchfile import load_state_dict

    files = sorted(path.glob("*.pt"))[:members]  # one member of the 10000-nt ensemble keeps it fast
    model = load_openspliceai(files)
    flank = model.flank
    codes = random_codes(max(lengths) + 2 * flank, seed=8, n_frac=0.05)
    want = np.mean([reference_forward(load_state_dict(p), codes, 1e-5, 0.1) for p in files], axis=0)
    with OpenVinoRunner(model, threads=2, segment=500, min_bucket=250) as runner:
        for n in lengths:
            assert np.max(np.abs(runner.score_sequence(codes[: n + 2 * flank]) - want[:n])) < TOL, n


def test_plan_is_the_cheapest_cover():
    buckets = length_buckets(100_000)
    assert buckets == [1562, 3125, 6250, 12500, 25000, 50000, 100000]
    assert plan_buckets(1, buckets, 10_000) == [(1, 1562)]
    assert plan_buckets(51_000, buckets, 10_000) == [(50_000, 50_000), (1_000, 1_562)]  # not one 100-kb pass
    assert plan_buckets(99_000, buckets, 10_000) == [(99_000, 100_000)]
    assert plan_buckets(250_000, buckets, 10_000) == [(100_000, 100_000)] * 2 + [(50_000, 50_000)]
    assert plan_buckets(0, buckets, 10_000) == []
    for n in np.random.default_rng(0).integers(1, 400_000, 200):
        plan = plan_buckets(int(n), buckets, 80)
        assert sum(k for k, _ in plan) == n and all(k <= b and b in buckets for k, b in plan)
