"""numpy (numba kernels) vs onnxruntime base-model backends, side by side, short and long regions.

For each region length (default 2 kb, 10 kb, 100 kb of scored bases, each with the model's
flanks of context on both sides) every backend scores the same regions, one region per
``score_sequence`` call, and (mode "numpy-many") all of them in one ``NumpyRunner.score_many``
call, as ``fastbuild predict`` now hands a chunk's regions to the numpy runner. The backends alternate region by region
(numpy, onnx, onnx, numpy, ...), the time of each is summed per round, and the ratio
onnx time / numpy time (numpy speed as a multiple of onnx speed) is taken per round, so that
only runs made under the same machine load are compared; the median round ratio and the best
round of each backend are reported. ``--im2col`` adds the numpy path's previous method
(im2col tap matrices + BLAS).

    python benchmarks/bench_numpy_path.py                        # 2k/10k/100k, 2 threads
    python benchmarks/bench_numpy_path.py --lengths 2000 --rounds 5 --json
    flock /tmp/bench.lock python benchmarks/bench_numpy_path.py  # on shared machines

Uses the installed SpliceAI weights (``pip install --no-deps spliceai==1.3.1``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import cpu_name


def cpu_label() -> str:
    """The CPU's model name with the vector width the direct kernels use."""
    from fastbuild.basemodel.forward_numba_fns import VECTOR_WIDTH

    return f"{cpu_name()} ({VECTOR_WIDTH}-lane kernels)"


def make_regions(length, total, flank, seed=0):
    """Random regions (codes with both flanks) of ``length`` scored bases, about ``total`` in all."""
    rng = np.random.default_rng(seed + length)
    k = max(1, -(-total // length))
    return [rng.integers(0, 4, length + 2 * flank).astype(np.uint8) for _ in range(k)]


def scorers(model, threads, im2col=False):
    """name -> callable(codes) -> scores (one region per call, as ``fastbuild predict`` scores
    them), and the runners to close."""
    from fastbuild.basemodel.forward import NumpyRunner
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    npr = NumpyRunner(model, threads=threads)
    ox = OnnxRunner(model, threads=threads)
    out = {"numpy": npr.score_sequence, "onnx": ox.score_sequence}
    if hasattr(npr, "score_many"):  # all regions of a length in one call (as score_chunk batches them)
        out["numpy-many"] = BatchMode(npr.score_many)
    runners = [npr, ox]
    if im2col:  # the previous numpy method, for before/after ratios in one run
        old = NumpyRunner(model, threads=threads)
        old.engine.method = "im2col"
        out["numpy-im2col"] = old.score_sequence
        runners.append(old)
    return out, runners


class BatchMode:
    """A mode that scores all regions of a length in one call (list in, list out)."""

    def __init__(self, fn):
        self.fn = fn


def bench_length(fns, regions, rounds):
    """Per mode: seconds of each round, and the outputs of the last round.

    Within a round the per-region modes alternate region by region (in turned-around order
    every other region), so that all modes see the same machine load; batch modes run once per
    round, before or after the others in turn."""
    times = {m: [0.0] * rounds for m in fns}
    outs = {m: [None] * len(regions) for m in fns}
    order = [m for m in fns if not isinstance(fns[m], BatchMode)]
    batch = [m for m in fns if isinstance(fns[m], BatchMode)]

    def run_batch(r):
        for mode in batch:
            t0 = time.perf_counter()
            outs[mode] = fns[mode].fn(regions)
            times[mode][r] += time.perf_counter() - t0

    for r in range(rounds):
        if r % 2:
            run_batch(r)
        for i, codes in enumerate(regions):
            for mode in order if (r + i) % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                outs[mode][i] = fns[mode](codes)
                times[mode][r] += time.perf_counter() - t0
        if r % 2 == 0:
            run_batch(r)
    return times, outs


def summary(length, regions, times, outs):
    """JSON-able result of one length: nt/s (best round), median per-round ratio to onnx, diffs."""
    nt = length * len(regions)
    res = {"length": length, "regions": len(regions)}
    for mode, ts in times.items():
        res[mode] = {"best_s": round(min(ts), 4), "nt_per_s": round(nt / min(ts))}
        if mode != "onnx":
            ratios = [o / t for o, t in zip(times["onnx"], ts, strict=True)]
            res[mode]["ratio_to_onnx_median"] = round(statistics.median(ratios), 3)
            res[mode]["ratio_to_onnx_rounds"] = [round(r, 3) for r in ratios]
    ref = np.concatenate(outs["numpy"])
    for mode in outs:
        if mode != "numpy":
            res[mode]["max_abs_diff_vs_numpy"] = float(np.max(np.abs(np.concatenate(outs[mode]) - ref)))
    return res


def main():
    """Run the comparison and print a table (or JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[2000, 10000, 100000])
    p.add_argument("--total", type=int, default=20_000, help="scored bases per mode and round (at least one region)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--im2col", action="store_true", help="also time the numpy path's im2col + BLAS method")
    args = p.parse_args()
    from fastbuild.basemodel import load_spliceai

    model = load_spliceai()
    fns, runners = scorers(model, args.threads, args.im2col)
    warm = make_regions(2000, 4000, model.flank, seed=99)
    for fn in fns.values():  # JIT, sessions, scratch buffers
        _ = fn.fn(warm) if isinstance(fn, BatchMode) else [fn(c) for c in warm]
    results = []
    for length in args.lengths:
        regions = make_regions(length, args.total, model.flank)
        times, outs = bench_length(fns, regions, args.rounds)
        results.append(summary(length, regions, times, outs))
    for r in runners:
        r.close()
    meta = {
        "threads": args.threads,
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg": os.getloadavg()[0],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "cpu": cpu_label(),
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": results}))
        return
    print(meta)
    for r in results:
        for mode in fns:
            m = r[mode]
            extra = ""
            if mode != "onnx":
                extra = f" ratio/onnx median {m['ratio_to_onnx_median']} rounds {m['ratio_to_onnx_rounds']}"
            if "max_abs_diff_vs_numpy" in m:
                extra += f" max|diff| vs numpy {m['max_abs_diff_vs_numpy']:.1e}"
            print(f"{r['length']:>7} nt x{r['regions']:<3} {mode:12s} {m['nt_per_s']:>8,} nt/s{extra}")


if __name__ == "__main__":
    main()
