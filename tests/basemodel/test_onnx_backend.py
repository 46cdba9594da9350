"""The optional onnxruntime backend equals the numpy forward pass (within 1e-4)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import polars as pl
import pytest
from bm_helpers import OSAI, random_codes, random_state_dict, write_fake_keras_h5

from fastbuild.basemodel import BACKENDS, make_runner, score_sequence
from fastbuild.basemodel.forward import NumpyRunner
from fastbuild.basemodel.models import load_openspliceai, load_spliceai, network_from_state_dict
from fastbuild.errors import FastbuildError

TOL = 1e-4
HAVE_ORT = importlib.util.find_spec("onnx") is not None and importlib.util.find_spec("onnxruntime") is not None
needs_ort = pytest.mark.skipif(
    not HAVE_ORT, reason="onnx/onnxruntime not installed (pip install 'fastbuild-splice[onnx]')"
)

FAMILIES = {"spliceai": (1e-3, 0.0), "openspliceai": (1e-5, 0.1)}


def _net(variant, n_units, seed):
    eps, slope = FAMILIES[variant]
    return network_from_state_dict(random_state_dict(n_units, seed=seed), eps=eps, negative_slope=slope)


@needs_ort
@pytest.mark.parametrize("variant", sorted(FAMILIES))
@pytest.mark.parametrize("n_units", [4, 16])
def test_random_weights_match_numpy(variant, n_units):
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    nets = [_net(variant, n_units, seed=n_units + i + 10 * (variant == "spliceai")) for i in range(2)]
    flank = nets[0].flank
    n = 1234  # not a multiple of the length quantum (100/200): the runner pads and crops
    codes = random_codes(n + 2 * flank, seed=5)
    want = NumpyRunner(nets, threads=2).score_sequence(codes)
    for kwargs in ({}, {"form": "image"}, {"form": "plain"}, {"form": "pairs"}, {"average": False}, {"conv2d": True}):
        got = OnnxRunner(nets, threads=2, **kwargs).score_sequence(codes)
        assert got.shape == (n, 3) and got.dtype == np.float32
        assert np.max(np.abs(got - want)) < TOL, kwargs


@needs_ort
def test_segments_and_dispatch():
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    net = _net("openspliceai", 4, seed=3)
    codes = random_codes(3001 + 2 * net.flank, seed=9)
    want = NumpyRunner([net], threads=1).score_sequence(codes)
    runner = OnnxRunner([net], threads=1)
    whole = runner.score_sequence(codes)
    with OnnxRunner([net], threads=1, segment=777) as segmented:  # 4 equal runs of 751 outputs
        parts = segmented.score_sequence(codes)
    assert np.max(np.abs(whole - want)) < TOL and np.max(np.abs(parts - whole)) < 1e-6
    # score_sequence picks the backend by keyword or by the runner it is given
    assert np.max(np.abs(score_sequence([net], codes, backend="onnx") - want)) < TOL
    assert np.max(np.abs(score_sequence([net], codes, runner=runner) - want)) < TOL
    assert score_sequence([net], codes[: 2 * net.flank], backend="onnx").shape == (0, 3)
    with pytest.raises(FastbuildError):
        score_sequence([net], codes[:10], backend="onnx")
    with pytest.raises(FastbuildError, match="backend"):
        score_sequence([net], codes, backend="tensorflow")
    with pytest.raises(FastbuildError, match="backend"):
        score_sequence([net], codes, backend="numpy", runner=runner)
    with pytest.raises(FastbuildError, match="different model"):
        score_sequence([_net("openspliceai", 4, seed=4)], codes, runner=runner)
    runner.close()
    with pytest.raises(FastbuildError, match="closed"):
        runner.score_sequence(codes)


@needs_ort
def test_make_runner_is_the_one_choice():
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    net = _net("spliceai", 4, seed=2)
    assert {"numpy", "onnx"} <= set(BACKENDS)
    with make_runner([net], "numpy") as a, make_runner([net], "onnx", threads=1) as b:
        assert isinstance(a, NumpyRunner) and isinstance(b, OnnxRunner)
        assert (a.backend, b.backend, b.threads) == ("numpy", "onnx", 1)
        codes = random_codes(500 + 2 * net.flank, seed=1)
        assert np.max(np.abs(a.score_sequence(codes) - b.score_sequence(codes))) < TOL
    with pytest.raises(FastbuildError,
                       match=r"backend 'tensorflow' \(use 'auto', 'numpy', 'onnx', 'openvino' or 'torch'\)"):
        make_runner([net], "tensorflow")


@needs_ort
def test_fake_keras_ensemble_and_score_genes(tmp_path):
    from fastbuild.basemodel import ScoreStore, score_genes
    from fastbuild.genome import Genome

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"spliceai{i + 1}.h5")
        write_fake_keras_h5(paths[-1], random_state_dict(4, seed=40 + i))
    model = load_spliceai(paths)
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGTN"), 2500))
    fa = tmp_path / "g.fa"
    fa.write_text(">c\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    genes = pl.DataFrame(
        {"gene_id": ["a", "b"], "chrom": ["c", "c"], "start": [1, 900], "end": [700, 2500], "strand": ["+", "-"]}
    )
    g = Genome(fa)
    try:
        s_np = score_genes(g, genes, model, tmp_path / "np", progress=False, threads=2, backend="numpy")
        s_ox = score_genes(g, genes, model, tmp_path / "ox", progress=False, threads=2, backend="onnx")
    finally:
        g.close()
    assert s_np["genes_scored"] == s_ox["genes_scored"] == 2
    a, b = ScoreStore(tmp_path / "np").load(["a", "b"]), ScoreStore(tmp_path / "ox").load(["a", "b"])
    num = [c for c in a.columns if a[c].dtype in (pl.Float32, pl.Float64)]
    assert num and a.height == b.height == 700 + 1601
    for c in num:
        assert np.max(np.abs(a[c].to_numpy() - b[c].to_numpy())) < TOL, c


@needs_ort
def test_real_openspliceai_80nt_checkpoints_match_numpy():
    folder = OSAI / "arabidopsis" / "80nt"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder}")
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    model = load_openspliceai(folder)
    assert len(model.networks) == 5 and model.flank == 40
    codes = random_codes(20_000 + 80, seed=8)
    want = NumpyRunner(model, threads=2).score_sequence(codes)
    got = OnnxRunner(model, threads=2).score_sequence(codes)
    assert np.max(np.abs(got - want)) < TOL


def test_missing_onnxruntime_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    from fastbuild.basemodel import onnx_backend

    net = _net("spliceai", 4, seed=1)
    codes = random_codes(100 + 2 * net.flank)
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[onnx\]"):
        score_sequence([net], codes, backend="onnx")
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[onnx\]"):
        onnx_backend.OnnxRunner([net])
    with pytest.raises(FastbuildError, match=r"fastbuild-splice\[onnx\]"):
        make_runner([net], "onnx")
    assert not onnx_backend.onnx_available()
