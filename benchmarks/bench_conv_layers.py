"""One convolution layer of the numpy path's direct kernels against numpy's float32 GEMM, one thread.

For each SpliceAI-10k layer shape (width, dilation) = (11, 1), (11, 4), (21, 10), (41, 25) at 32
channels, the plain direct kernel (:func:`fastbuild.basemodel.forward._conv_act_direct`, bias and
activation fused) computes ``--rows`` output rows, and numpy multiplies two square float32
matrices with its BLAS held to one thread; the two alternate round by round and the best round
of each is kept. Rates are in GFLOP/s of the plain form (2 * rows * width * C * C); the ratio
kernel / GEMM says how close the kernels are to what BLAS gets out of the same core, so that the
speed of the whole network can only grow further by doing fewer multiplications.

    python benchmarks/bench_conv_layers.py                 # 100k rows, 3 rounds
    python benchmarks/bench_conv_layers.py --tile-rows 8 12 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fastbuild.basemodel import forward as fw

SHAPES = ((11, 1), (11, 4), (21, 10), (41, 25))
CHANNELS = 32


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="output rows per layer call (default 100000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    p.add_argument("--gemm-size", type=int, default=2048, help="square GEMM size (default 2048)")
    p.add_argument("--tile-rows", type=int, nargs="+", default=None,
                   help="register-tile rows to try (default: what the runner uses)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def _layer(width: int, dil: int, rows: int, rng):
    src = rng.standard_normal((rows + (width - 1) * dil, CHANNELS)).astype(np.float32)
    w = (rng.standard_normal((width * CHANNELS, CHANNELS)) * 0.05).astype(np.float32)
    return src, w, np.zeros(CHANNELS, np.float32), np.empty((rows, CHANNELS), np.float32)


def _time_layer(layer, width, dil, tile) -> float:
    src, w, bias, out = layer
    geom, geom1 = fw.geometry(CHANNELS // fw.VECTOR_WIDTH, tile), fw.geometry(CHANNELS // fw.VECTOR_WIDTH, 1)
    t0 = time.perf_counter()
    fw._conv_act_direct(src, 0, out.shape[0], w, width, dil, bias, np.float32(0), out, 0, geom, geom1)
    return time.perf_counter() - t0


def _time_gemm(a) -> float:
    with fw.blas_threads(1):
        t0 = time.perf_counter()
        np.matmul(a, a)
        return time.perf_counter() - t0


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    if not fw.direct_supported(CHANNELS, CHANNELS):
        raise SystemExit("the direct kernels do not run 32 channels here (JIT off or an unsupported vector width)")
    rng = np.random.default_rng(0)
    tiles = args.tile_rows or [fw.tile_rows(CHANNELS // fw.VECTOR_WIDTH)]
    layers = {s: _layer(*s, args.rows, rng) for s in SHAPES}
    a = rng.standard_normal((args.gemm_size, args.gemm_size)).astype(np.float32)
    for s in SHAPES:  # compile and warm up
        for tile in tiles:
            _time_layer(layers[s], *s, tile)
    _time_gemm(a)
    best, gemm_s = {(s, tile): np.inf for s in SHAPES for tile in tiles}, np.inf
    for _ in range(args.rounds):
        for s, tile in best:
            best[s, tile] = min(best[s, tile], _time_layer(layers[s], *s, tile))
        gemm_s = min(gemm_s, _time_gemm(a))
    gemm = 2 * args.gemm_size**3 / gemm_s / 1e9
    rows = [{"width": s[0], "dilation": s[1], "tile_rows": tile,
             "gflops": 2 * args.rows * s[0] * CHANNELS**2 / sec / 1e9} for (s, tile), sec in best.items()]
    for r in rows:
        r["of_gemm"] = r["gflops"] / gemm
    if args.json:
        print(json.dumps({"gemm_gflops": gemm, "vector_width": fw.VECTOR_WIDTH, "layers": rows}))
        return 0
    print(f"numpy float32 GEMM, 1 thread: {gemm:.1f} GFLOP/s ({fw.VECTOR_WIDTH}-lane kernels)")
    print("| width | dilation | tile rows | GFLOP/s | of GEMM |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['width']} | {r['dilation']} | {r['tile_rows']} | {r['gflops']:.1f} | {r['of_gemm']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
