"""benchmarks/bench_conv_layers.py: a tiny run prints a rate for every layer shape, form and the GEMM."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_conv_layers as bench
from fastbuild.basemodel import forward_numba_fns as fw


@pytest.mark.skipif(not fw.direct_supported(32, 32), reason="direct kernels unavailable (JIT off or vector width)")
def test_bench_conv_layers_reports_every_shape(capsys):
    assert bench.main(["--rows", "500", "--rounds", "1", "--gemm-size", "256", "--tile-rows", "4", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gemm_gflops"] > 0
    shapes = {(r["width"], r["dilation"], r["tile_rows"], r["form"]) for r in out["layers"]}
    assert shapes == {(w, d, t, f) for w, d in bench.SHAPES for t in (4, 8) for f in bench.FORMS}
    for r in out["layers"]:
        assert r["gflops"] > 0 and r["of_gemm"] == pytest.approx(r["gflops"] / out["gemm_gflops"])
        assert r["mults"] == 1.0 if r["form"] == "plain" else 0.55 < r["mults"] < 0.6


def test_two_level_form_does_nine_sixteenths_of_the_multiplications():
    assert bench.mults(41, "two-level") == pytest.approx(94 / 164)
    assert bench.mults(11, "two-level") == pytest.approx(26 / 44)
