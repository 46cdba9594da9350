"""The torch engine equals the float64 reference and the numpy engine within 1e-5, on the CPU here
(and on CUDA where there is a GPU: tests marked ``gpu``); tile seams change no score; "auto" runs
torch only with a CUDA device; bf16 is refused off CUDA.

Tests that run the engine skip without torch (``pytest.importorskip``); the choice of engine,
the device of a worker and the tile plan are checked without it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from bm_helpers import OSAI, REPO, random_codes, random_state_dict, reference_forward, write_fake_keras_h5

from fastbuild.basemodel import BACKENDS, make_runner, score_sequence
from fastbuild.basemodel import torch_backend as tb
from fastbuild.basemodel.backends import (
    ENGINES,
    THROUGHPUT,
    auto_engine,
    check_backend,
    engine_available,
    estimate_seconds,
)
from fastbuild.basemodel.forward import NumpyRunner
from fastbuild.basemodel.models import load_openspliceai, load_spliceai, network_from_state_dict
from fastbuild.errors import FastbuildError

TOL = 1e-5
FAMILIES = {"spliceai": (1e-3, 0.0), "openspliceai": (1e-5, 0.1)}
# skipped at collection (before the fixtures are built) where torch sees no CUDA device
needs_cuda = pytest.mark.skipif(not tb.cuda_available(), reason="no CUDA device (or torch not installed)")


def _torch():
    return pytest.importorskip("torch", reason="torch not installed (pip install 'fastbuild-splice[torch]')")


def _cuda():
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch


def _ensemble(variant, n_units, members=2, seed=0):
    eps, slope = FAMILIES[variant]
    sds = [random_state_dict(n_units, seed=seed + i) for i in range(members)]
    return [network_from_state_dict(sd, eps=eps, negative_slope=slope) for sd in sds], sds, eps, slope


def _reference(sds, codes, eps, slope):
    return np.mean([reference_forward(sd, codes, eps, slope) for sd in sds], axis=0)


@pytest.fixture(scope="module")
def deep():
    """A 2-member, 16-unit (10000-nt context) OpenSpliceAI-like ensemble, codes with 5% N and the
    float64 reference (output i depends on codes[i : i + 2*flank + 1] only: every prefix's
    reference is a prefix of it)."""
    nets, sds, eps, slope = _ensemble("openspliceai", 16, seed=23)
    codes = random_codes(1300 + 2 * nets[0].flank, seed=16, n_frac=0.05)
    return nets, codes, _reference(sds, codes, eps, slope)


def _check_lengths(runner, codes, want, lengths):
    flank = runner.flank
    got = runner.score_many([codes[: n + 2 * flank] for n in lengths])
    for n, g in zip(lengths, got, strict=True):
        assert g.shape == (n, 3) and g.dtype == np.float32
        assert np.max(np.abs(g - want[:n]), initial=0.0) < TOL, n
    return got


def test_deep_ensemble_and_tile_seams_match_float64_reference(deep):
    _torch()
    nets, codes, want = deep
    numpy_scores = NumpyRunner(nets, threads=2).score_sequence(codes)
    assert np.max(np.abs(numpy_scores - want)) < TOL
    with tb.TorchRunner(nets, threads=1, device="cpu") as whole:
        assert (whole.backend, whole.precision, whole.device.type) == ("torch", "float32", "cpu")
        one = whole.score_sequence(codes)
    assert np.max(np.abs(one - want)) < TOL and np.max(np.abs(one - numpy_scores)) < TOL
    with tb.TorchRunner(nets, threads=1, device="cpu", tile=512, batch=2) as tiled:  # 3 tiles, 2 batches
        assert np.max(np.abs(tiled.score_sequence(codes) - one)) < TOL  # seams change nothing
    with tb.TorchRunner(nets, threads=1, device="cpu", tile=4096, batch=2) as packed:  # two sequences, 3 tiles
        _check_lengths(packed, codes, want, [1, 1300])


@pytest.mark.parametrize("variant", sorted(FAMILIES))
def test_both_families_short_models_and_many_sequences(variant):
    _torch()
    nets, sds, eps, slope = _ensemble(variant, 4, members=3, seed=5)  # 80-nt context
    flank = nets[0].flank
    codes = random_codes(5000 + 2 * flank, seed=2, n_frac=0.05)
    want = _reference(sds, codes, eps, slope)
    with tb.TorchRunner(nets, threads=1, device="cpu", tile=1000, batch=2) as runner:
        _check_lengths(runner, codes, want, [5000, 1, 999, 1000, 1001, 2 * 1000 + 17, 3])
        assert runner.score_sequence(codes[: 2 * flank]).shape == (0, 3)
        with pytest.raises(FastbuildError, match="shorter"):
            runner.score_sequence(codes[:10])
        long = runner.score_sequence(codes)
    with tb.TorchRunner(nets, threads=1, device="cpu", tile=7, batch=5) as tiny:  # a seam every 7 outputs
        assert np.max(np.abs(tiny.score_sequence(codes) - long)) < TOL
    assert np.max(np.abs(NumpyRunner(nets, threads=2).score_sequence(codes) - long)) < TOL


def test_fake_spliceai_keras_ensemble_matches_numpy(tmp_path):
    _torch()
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"spliceai{i + 1}.h5")
        write_fake_keras_h5(paths[-1], random_state_dict(4, seed=40 + i))
    model = load_spliceai(paths)
    codes = random_codes(3000 + 2 * model.flank, seed=7)
    want = NumpyRunner(model, threads=2).score_sequence(codes)
    with make_runner(model, "torch", threads=1) as runner:
        assert isinstance(runner, tb.TorchRunner) and runner.backend == "torch" and runner.is_bound_to(model)
        assert np.max(np.abs(runner.score_sequence(codes) - want)) < TOL
        assert np.max(np.abs(score_sequence(model, codes, runner=runner) - want)) < TOL
    with pytest.raises(FastbuildError, match="closed"):
        runner.score_sequence(codes)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(tb.DEVICE_ENV, "cpu")
        assert np.max(np.abs(score_sequence(model, codes, backend="torch") - want)) < TOL


@pytest.mark.realdata
@pytest.mark.parametrize(("species", "folder", "n"), [("arabidopsis", "80nt", 20_000), ("mane", "10000nt", 300)])
def test_real_openspliceai_ensembles_match_numpy(species, folder, n):
    _torch()
    path = OSAI / species / folder
    if not path.is_dir():
        pytest.skip(f"real data not available: {path}")
    model = load_openspliceai(path)
    assert len(model.networks) == 5
    codes = random_codes(n + 2 * model.flank, seed=8, n_frac=0.02)
    want = NumpyRunner(model, threads=2).score_sequence(codes)
    with tb.TorchRunner(model, threads=1, device="cpu", tile=max(64, n // 2)) as runner:
        assert np.max(np.abs(runner.score_sequence(codes) - want)) < TOL


def test_exact_float32_is_scoped():
    torch = _torch()
    knobs = tb._precision_knobs(torch)
    if knobs:
        before = [k.fp32_precision for k in knobs]
        knobs[0].fp32_precision = "tf32"  # e.g. a caller who allows TF32 matmuls
        try:
            with tb.exact_float32(threads=1):
                assert all(k.fp32_precision == "ieee" for k in knobs)
                assert torch.get_num_threads() == 1
            assert knobs[0].fp32_precision == "tf32" and [k.fp32_precision for k in knobs[1:]] == before[1:]
        finally:
            knobs[0].fp32_precision = before[0]
    else:
        with tb.exact_float32():
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            assert torch.get_float32_matmul_precision() == "highest"


def test_bf16_is_refused_on_the_cpu_in_one_line():
    _torch()
    nets, _, _, _ = _ensemble("openspliceai", 4, members=1)
    for make in (lambda: tb.TorchRunner(nets, device="cpu", precision="bf16"),
                 lambda: make_runner(nets, "torch", precision="bf16") if not tb.cuda_available() else None):
        with pytest.raises(FastbuildError, match="bf16' needs a CUDA device") as err:
            make()
        assert "\n" not in str(err.value)
    with pytest.raises(FastbuildError, match="unknown precision"):
        tb.TorchRunner(nets, device="cpu", precision="fp16")
    with pytest.raises(FastbuildError, match="needs the openvino backend"):
        check_backend("numpy", "bf16")
    with pytest.raises(FastbuildError, match="threads"):
        tb.TorchRunner(nets, threads=0)


def _fake_gpu(monkeypatch, present: bool):
    torch = _torch()
    monkeypatch.setattr(tb, "_may_have_gpu", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: present)
    monkeypatch.delenv(tb.DEVICE_ENV, raising=False)


def test_auto_runs_torch_only_with_a_cuda_device(monkeypatch):
    assert "torch" in BACKENDS and "torch" in ENGINES
    _fake_gpu(monkeypatch, True)  # a (mocked) GPU: nothing runs on it here
    assert tb.cuda_available() and auto_engine() == "torch"
    assert check_backend("auto") == "torch" and check_backend("auto", "bf16") == "torch"
    monkeypatch.setenv(tb.DEVICE_ENV, "cpu")  # forced to the CPU: auto runs the CPU order
    assert not tb.cuda_available() and auto_engine() == "numpy"
    _fake_gpu(monkeypatch, False)
    assert auto_engine() == "numpy" and check_backend("auto") == "numpy"
    assert engine_available("torch")
    nets, _, _, _ = _ensemble("spliceai", 4, members=1)
    with make_runner(nets) as runner:
        assert runner.backend == "numpy"


def test_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import fails as if not installed
    monkeypatch.setattr(tb, "_may_have_gpu", lambda: True)
    assert not engine_available("torch") and not tb.cuda_available() and check_backend("auto") == "numpy"
    nets, _, _, _ = _ensemble("spliceai", 4, members=1)
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[torch\]"):
        make_runner(nets, "torch")
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[torch\]"):
        tb.TorchRunner(nets)


def test_worker_processes_spread_over_devices():
    assert tb.pick_device(None, 0, (3,)) == "cpu"
    assert [tb.pick_device(None, 2, (k,)) for k in (1, 2, 3, 4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert tb.pick_device(None, 4, (), current=2) == "cuda:2"  # not a pool worker: the current device
    assert tb.pick_device("1", 2, (1,)) == tb.pick_device("cuda:1", 2) == "cuda:1"  # the variable wins
    assert tb.pick_device(" CPU ", 8, (1,)) == "cpu" and tb.pick_device("cuda", 2, (2,), current=1) == "cuda:1"
    with pytest.raises(FastbuildError, match="sees 1 CUDA"):
        tb.pick_device("3", 1)
    with pytest.raises(FastbuildError, match="not a device"):
        tb.pick_device("gpu0", 1)


def test_tile_plan_and_memory_bound():
    assert tb.plan_tiles([80], 40, 64, 4) == [] and tb.plan_tiles([], 40, 64, 4) == []  # no output
    assert tb.plan_tiles([81], 40, 64, 4, quantum=8) == [(0, 1, 8)]
    assert tb.plan_tiles([40 + 64 * 9 + 40], 40, 64, 4) == [(0, 4, 64), (256, 4, 64), (512, 1, 64)]
    assert tb.plan_tiles([80 + 64 * 5 + 3], 40, 64, 2, quantum=16) == [(0, 2, 64), (128, 2, 64), (256, 1, 64),
                                                                        (320, 1, 16)]
    _torch()
    nets, _, _, _ = _ensemble("openspliceai", 16, members=1)
    runner = tb.TorchRunner(nets, device="cpu", tile=tb.CUDA_TILE, batch=tb.CUDA_BATCH)
    assert runner.flank == 5000 and nets[0].channels == 32
    assert runner.memory_bound_bytes() == 8 * 141_072 * (16 * 32 + 9) + 8 * 131_072 * 60  # 651 MB, as documented


def test_estimates():
    assert estimate_seconds(1_000_000, "numpy") == pytest.approx(1e6 / THROUGHPUT["numpy", "float32", "cpu"][0])
    assert estimate_seconds(10**9, "torch", device="cuda") is None  # unmeasured until a device run
    assert estimate_seconds(10**9, "torch", "bf16", device="cuda") is None
    assert estimate_seconds(10**6, "numpy", "bf16") is None
    with pytest.raises(FastbuildError, match="unknown engine"):
        estimate_seconds(1, "auto")


# ------------------------------------------------------------------------------------------
# on a GPU only
# ------------------------------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_cuda_float32_is_exact_and_memory_bounded(deep):
    torch = _cuda()
    nets, codes, want = deep
    knobs = [k.fp32_precision for k in tb._precision_knobs(torch)]
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with tb.TorchRunner(nets, device="cuda", tile=256, batch=3) as runner:
        assert runner.device.type == "cuda" and runner.backend == "torch"
        _check_lengths(runner, codes, want, [1, 255, 256, 257, 1300, 700])  # ~200 tiles, 3 a batch
        peak = torch.cuda.max_memory_allocated() - base  # weights and cuDNN workspace included
        assert peak <= runner.memory_bound_bytes() + (256 << 20), (peak, runner.memory_bound_bytes())
    with tb.TorchRunner(nets, device="cuda") as whole:  # default tiles
        assert np.max(np.abs(whole.score_sequence(codes) - want)) < TOL
    assert [k.fp32_precision for k in tb._precision_knobs(torch)] == knobs  # the caller's settings are back


@pytest.mark.gpu
@needs_cuda
def test_cuda_bf16_is_close_and_reported(deep):
    _cuda()
    nets, codes, want = deep
    with make_runner(nets, "torch", precision="bf16") as runner:
        assert (runner.backend, runner.precision, runner.device.type) == ("torch", "bf16", "cuda")
        got = runner.score_sequence(codes)
    assert np.max(np.abs(got - want)) < 0.05  # bf16: close, not exact
    assert check_backend("auto", "bf16") == "torch" and check_backend("auto") == "torch"


@pytest.mark.gpu
@needs_cuda
def test_cuda_device_from_the_environment(monkeypatch):
    torch = _cuda()
    monkeypatch.setenv(tb.DEVICE_ENV, str(torch.cuda.device_count() - 1))
    assert tb.default_device() == f"cuda:{torch.cuda.device_count() - 1}"
    monkeypatch.setenv(tb.DEVICE_ENV, "cpu")
    assert tb.default_device() == "cpu"


@pytest.mark.realdata
def test_gpu_benchmark_runs_on_the_cpu(tmp_path):
    """benchmarks/bench_gpu.py end to end, tiny (80nt models, 20 kb): the device check's code path."""
    import importlib.util
    import json

    _torch()
    model = OSAI / "arabidopsis" / "80nt"
    if not model.is_dir():
        pytest.skip(f"real data not available: {model}")
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "benchmarks" / "bench_gpu.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--device", "cpu", "--model", str(model), "--mb", "0.02", "--exact-k", "2", "--exact-len", "500",
                      "--threads", "1", "--json", str(tmp_path / "bench.json")])
    assert res["exact"]["torch float32 vs numpy engine"] < TOL
    assert res["exact"]["float32 tiles of 1000 vs default tiles"] < TOL
    assert [(s["engine"], s["precision"]) for s in res["speed"]] == [("torch", "float32"), ("numpy", "float32")]
    assert all(s["scored_nt"] >= 20_000 and s["nt_per_s"] > 0 for s in res["speed"])
    assert "bf16' needs a CUDA device" in res["refused"]["torch bf16"]
    assert json.loads((tmp_path / "bench.json").read_text())["flop_per_nt"] == res["flop_per_nt"]
