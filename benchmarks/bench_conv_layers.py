"""One convolution layer of the numpy path's direct kernels against numpy's float32 GEMM, one thread.

For each SpliceAI-10k layer shape (width, dilation) = (11, 1), (11, 4), (21, 10), (41, 25) at 32
channels, the direct kernels compute ``--rows`` output rows in the plain form
(:func:`fastbuild.basemodel.forward_numba_fns._conv_act_direct`, bias and activation fused) and
in the two-level pairwise form the runner uses
(:func:`fastbuild.basemodel.forward_numba_fns._quad_act_direct`: strided tiles, difference
streams per chunk), and numpy multiplies two square float32 matrices with its BLAS held to one
thread; all alternate round by round and the best round of each is kept. Rates are in GFLOP/s
of the plain form (2 * rows * width * C * C) for both forms, so the two-level form can pass the
GEMM rate: it does about 9/16 of the multiplications. ``mults`` says which share of the plain
form's multiplications a form does.

    python benchmarks/bench_conv_layers.py                 # 100k rows, 3 rounds
    python benchmarks/bench_conv_layers.py --tile-rows 8 12 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fastbuild.basemodel import forward_numba_fns as fw
from fastbuild.basemodel.blas import blas_threads
from fastbuild.basemodel.forward import QUAD_CHUNK_ROWS
from fastbuild.basemodel.models import quad_weights

SHAPES = ((11, 1), (11, 4), (21, 10), (41, 25))
FORMS = ("plain", "two-level")
CHANNELS = 32


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="output rows per layer call (default 100000)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    p.add_argument("--gemm-size", type=int, default=2048, help="square GEMM size (default 2048)")
    p.add_argument("--tile-rows", type=int, nargs="+", default=None,
                   help="register-tile rows to try (default: what the runner uses)")
    p.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS),
                   help="convolution forms timed (default both)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def _layer(width: int, dil: int, rows: int, rng):
    src = rng.standard_normal((rows + (width - 1) * dil, CHANNELS)).astype(np.float32)
    w = (rng.standard_normal((width * CHANNELS, CHANNELS)) * 0.05).astype(np.float32)
    quad = quad_weights(w, width)
    return src, w, np.zeros(CHANNELS, np.float32), np.empty((rows, CHANNELS), np.float32), quad


def _time_layer(layer, width, dil, tile, form="plain") -> float:
    """Seconds of one pass over the layer's rows (the two-level form: its whole blocks of
    tile*4D rows, the plain form the rest, as the runner splits them)."""
    src, w, bias, out, (kq, taps) = layer
    geom, geom1 = fw.geometry(CHANNELS // fw.VECTOR_WIDTH, tile), fw.geometry(CHANNELS // fw.VECTOR_WIDTH, 1)
    n, slope, done = out.shape[0], np.float32(0), 0
    t0 = time.perf_counter()
    if form == "two-level":
        block, reach = tile * 4 * dil, (width - 1) * dil
        per = max(1, QUAD_CHUNK_ROWS // block)
        st = np.empty((4, per * block + reach, CHANNELS), np.float32)
        t0 = time.perf_counter()
        blocks = n // block
        fw._quad_act_direct(src, 0, 0, blocks, per, reach, kq, taps, dil, bias, slope, out, 0, geom, st)
        done = blocks * block
    fw._conv_act_direct(src, done, n - done, w, width, dil, bias, slope, out, done, geom, geom1)
    return time.perf_counter() - t0


def mults(width: int, form: str) -> float:
    """Share of the plain form's multiplications a form does (per four rows: 4W plain)."""
    if form == "plain":
        return 1.0
    return float(quad_weights(np.zeros((width, 1), np.float32), width)[1].sum()) / (4 * width)


def _time_gemm(a) -> float:
    with blas_threads(1):
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
    best = {(s, tile, f): np.inf for s in SHAPES for tile in tiles for f in args.forms}
    for s, tile, f in best:  # compile and warm up
        _time_layer(layers[s], *s, tile, f)
    _time_gemm(a)
    gemm_s = np.inf
    for _ in range(args.rounds):
        for s, tile, f in best:
            best[s, tile, f] = min(best[s, tile, f], _time_layer(layers[s], *s, tile, f))
        gemm_s = min(gemm_s, _time_gemm(a))
    gemm = 2 * args.gemm_size**3 / gemm_s / 1e9
    rows = [{"width": s[0], "dilation": s[1], "tile_rows": tile, "form": f, "mults": mults(s[0], f),
             "gflops": 2 * args.rows * s[0] * CHANNELS**2 / sec / 1e9} for (s, tile, f), sec in best.items()]
    for r in rows:
        r["of_gemm"] = r["gflops"] / gemm
    if args.json:
        print(json.dumps({"gemm_gflops": gemm, "vector_width": fw.VECTOR_WIDTH, "layers": rows}))
        return 0
    print(f"numpy float32 GEMM, 1 thread: {gemm:.1f} GFLOP/s ({fw.VECTOR_WIDTH}-lane kernels)")
    print("| width | dilation | form | multiplications | tile rows | GFLOP/s (plain-form FLOPs) | of GEMM |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['width']} | {r['dilation']} | {r['form']} | {r['mults']:.2f} | {r['tile_rows']} | "
              f"{r['gflops']:.1f} | {r['of_gemm']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
