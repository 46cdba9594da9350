"""Benchmark the numpy/numba base-model forward pass.

Reports nucleotides scored per second for the 5-model SpliceAI ensemble (10000nt flank) and the
share of this machine's float32 matrix-multiply throughput (numpy matmul, measured in the same
run) that it reaches. By default it runs in child processes: once with the environment as it is,
once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS then picks its kernels for this
CPU), and, when the environment does not set OPENBLAS_CORETYPE, once with it set to Haswell.

    python benchmarks/bench_basemodel.py                 # all settings, 100 kb sequence, best of 3
    python benchmarks/bench_basemodel.py --single --json # this environment only
    python benchmarks/bench_basemodel.py --length 1000000 --memory
    python benchmarks/bench_basemodel.py --onnx          # also the onnxruntime backend (extra "onnx")

Uses the installed SpliceAI weights (``pip install --no-deps spliceai==1.3.1``); without them,
random weights of the same topology (the speed is the same).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLOP_PER_NT_PER_MODEL = 1_376_256  # 672 taps x 32 x 32 x 2 (10000nt topology)


def matmul_gflops(seconds=1.5):
    """float32 matmul GFLOP/s of this machine: a square 2048 product and a convolution-shaped one."""
    out = {}
    n = 2048
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, a, out=c)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        np.matmul(a, a, out=c)
        reps += 1
    out["square_2048"] = 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9
    a = np.random.default_rng(1).random((1024, 41 * 32), dtype=np.float32)
    w = np.random.default_rng(2).random((41 * 32, 32), dtype=np.float32)
    o = np.empty((1024, 32), np.float32)
    np.matmul(a, w, out=o)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        np.matmul(a, w, out=o)
        reps += 1
    out["conv_shaped_1024x1312x32"] = 2 * a.shape[0] * a.shape[1] * 32 * reps / (time.perf_counter() - t0) / 1e9
    return out


def load_ensemble():
    """(model, description): the installed SpliceAI ensemble, else random weights of its topology."""
    from fastbuild.basemodel import load_spliceai
    from fastbuild.errors import FastbuildError

    try:
        return load_spliceai(), "spliceai 1.3.1 weights"
    except FastbuildError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "basemodel"))
        from bm_helpers import random_state_dict

        from fastbuild.basemodel.models import Model, ModelSpec, network_from_state_dict

        nets = [network_from_state_dict(random_state_dict(16, seed=i), eps=1e-3, negative_slope=0.0) for i in range(5)]
        spec = ModelSpec("random-spliceai-topology", "test", 5000, "relu", 0.0, 1e-3)
        return Model(spec, nets), "random weights (SpliceAI not installed)"


# ---- onnxruntime backend (optional, --onnx) ------------------------------------------------
ONNX_MODES = ("onnx", "onnx-members", "onnx-5sessions", "onnx-image", "onnx-plain", "onnx-pairs")


def _mean_of(runners):
    """callable(codes): the float64 mean of the runners' scores, as float32."""

    def score(codes):
        return (np.sum([r.score_sequence(codes).astype(np.float64) for r in runners], axis=0) / len(runners)).astype(
            np.float32
        )

    return score


def onnx_scorers(model, args):
    """name -> (callable(codes), runner) for the requested onnxruntime variants (same threads as numpy).

    onnx: the backend's defaults (one session, "mixed" convolution forms, members averaged in
    the graph); onnx-members: members' outputs averaged in numpy; onnx-5sessions: one session per
    member; onnx-image / -plain / -pairs: the other convolution forms (onnx_backend.conv_plan)."""
    from fastbuild.basemodel.onnx_backend import OnnxRunner

    seg = args.onnx_segment
    out = {}
    for mode in args.onnx_modes:
        if mode == "onnx":
            r = OnnxRunner(model, threads=args.threads, segment=seg)
            out[mode] = (r.score_sequence, r)
        elif mode == "onnx-members":
            r = OnnxRunner(model, threads=args.threads, segment=seg, average=False)
            out[mode] = (r.score_sequence, r)
        elif mode in ("onnx-image", "onnx-plain", "onnx-pairs"):
            r = OnnxRunner(model, threads=args.threads, segment=seg, form=mode.split("-")[1])
            out[mode] = (r.score_sequence, r)
        elif mode == "onnx-5sessions":
            rs = [OnnxRunner([net], threads=args.threads, segment=seg) for net in model.networks]
            out[mode] = (_mean_of(rs), rs[0])
    return out


def peak_rss_reset():
    """Reset this process's peak RSS (Linux: /proc/self/clear_refs), so later peaks are measured alone."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    """Peak resident memory of this process in MB (VmHWM where Linux has it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---------------------------------------------------------------------------------------------


def openblas_core():
    """Name of the OpenBLAS kernel set numpy's bundled OpenBLAS picked (None when unknown)."""
    import ctypes
    import glob

    try:
        libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
        f = ctypes.CDLL(libs[0]).scipy_openblas_get_corename64_
        f.restype = ctypes.c_char_p
        return f().decode()
    except Exception:
        return None


def time_runs(model, codes, args):
    """Best-of-``repeats`` seconds per mode (numpy modes and onnx variants), matmul GFLOP/s, onnx info.

    The matmul reference and the forward runs are interleaved and the best of each kept: on a
    shared machine that pairs measurements taken under similar load.
    """
    from fastbuild.basemodel.forward import NumpyRunner

    runners = {mode: NumpyRunner(model, args.threads, pairwise=(mode == "pairwise")) for mode in args.modes}
    warm = codes[: 20000 + 2 * model.flank]
    for runner in runners.values():
        runner.score_sequence(warm)  # warm-up / JIT
    onnx = onnx_scorers(model, args) if args.onnx else {}
    for fn, _ in onnx.values():
        fn(warm)
    scorers = {mode: (r.score_sequence, r) for mode, r in runners.items()} | onnx
    onnx_out, best_mm, best = {}, {}, {}
    for _ in range(args.repeats):
        for key, val in matmul_gflops(0.7).items():
            best_mm[key] = max(best_mm.get(key, 0.0), val)
        for mode, (fn, _) in scorers.items():
            t0 = time.perf_counter()
            out = fn(codes)
            dt = time.perf_counter() - t0
            best[mode] = min(best.get(mode, dt), dt)
            if mode in onnx:
                onnx_out[mode] = out
    info = {}
    if onnx:  # exactness against the numpy path on the benchmark sequence itself
        ref = next(iter(runners.values())).score_sequence(codes)
        info["onnx_max_abs_diff_vs_numpy"] = {m: float(np.max(np.abs(o - ref))) for m, o in onnx_out.items()}
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
        info["onnx_segment"] = next(iter(onnx.values()))[1].segment
    for _, runner in scorers.values():
        runner.close()
    return best, best_mm, info


def measure_memory(model, rng, args, onnx: bool) -> dict:
    """Peak RSS of scoring a 2-Mb sequence with one member (numpy; then onnx alone, where asked)."""
    from fastbuild.basemodel import score_sequence

    out = {}
    t0 = time.perf_counter()
    n = 2_000_000
    big = rng.integers(0, 4, n + 2 * model.flank).astype(np.uint8)
    score_sequence(model.networks[:1], big)
    out["memory_2mb_one_model"] = {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if onnx:  # the onnx backend's peak alone (peak RSS reset first where Linux allows it)
        from fastbuild.basemodel.onnx_backend import OnnxRunner

        reset = peak_rss_reset()
        t0 = time.perf_counter()
        with OnnxRunner(model.networks[:1], threads=args.threads, segment=args.onnx_segment) as runner:
            runner.score_sequence(big)
        out["memory_2mb_one_model_onnx"] = {
            "peak_rss_mb": peak_rss_mb(),
            "peak_reset": reset,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def run_single(args):
    """All measurements in this process; a JSON-able dict."""
    model, source = load_ensemble()
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, args.length + 2 * model.flank).astype(np.uint8)
    result = {
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "weights": source,
        "models": len(model.networks),
        "length": args.length,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    core = openblas_core()
    if core is not None:
        result["openblas_core"] = core
    best, best_mm, info = time_runs(model, codes, args)
    result.update(info)
    result["matmul_gflops"] = best_mm
    for mode in best:
        nt_s = args.length / best[mode]
        gflops = nt_s * len(model.networks) * FLOP_PER_NT_PER_MODEL / 1e9
        result[mode] = {
            "seconds": round(best[mode], 3),
            "nt_per_s": round(nt_s),
            "gflops_effective": round(gflops, 1),
            "share_of_square_matmul": round(gflops / best_mm["square_2048"], 3),
        }
    try:
        result["loadavg_after"] = os.getloadavg()[0]
    except OSError:
        pass
    if args.memory:
        result.update(measure_memory(model, rng, args, args.onnx))
    return result


def parse_args():
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=100_000, help="bases scored (flanks excluded)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--modes", nargs="+", default=["pairwise", "plain"], choices=["pairwise", "plain"])
    p.add_argument("--memory", action="store_true", help="also score a 2-Mb sequence and report peak RSS")
    p.add_argument("--single", action="store_true", help="run in this environment only")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--onnx", action="store_true", help="also time the onnxruntime backend (pip install 'fastbuild-splice[onnx]')"
    )
    p.add_argument(
        "--onnx-modes", nargs="+", default=["onnx"], choices=list(ONNX_MODES), help="onnx variants timed with --onnx"
    )
    p.add_argument(
        "--onnx-segment", type=int, default=None, help="outputs per onnxruntime run (default: the backend's)"
    )
    args = p.parse_args()
    if args.onnx_segment is None:
        args.onnx_segment = 100_000
        if args.onnx:
            from fastbuild.basemodel.onnx_backend import DEFAULT_ONNX_SEGMENT

            args.onnx_segment = DEFAULT_ONNX_SEGMENT
    return args


def run_children(args):
    """run_single in child processes, one per OpenBLAS setting; their results."""
    child = [sys.executable, __file__, "--single", "--json", "--length", str(args.length), "--repeats",
             str(args.repeats), "--modes", *args.modes]
    if args.threads:
        child += ["--threads", str(args.threads)]
    if args.memory:
        child.append("--memory")
    if args.onnx:
        child += ["--onnx", "--onnx-segment", str(args.onnx_segment), "--onnx-modes", *args.onnx_modes]
    results = []
    env_unset = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    settings = [("environment as is", dict(os.environ)), ("OPENBLAS_CORETYPE/L2_SIZE unset", env_unset)]
    if "OPENBLAS_CORETYPE" not in os.environ:  # show the CI-like setting too
        settings.append(("OPENBLAS_CORETYPE=Haswell", dict(env_unset, OPENBLAS_CORETYPE="Haswell")))
    for label, env in settings:
        out = subprocess.run(child, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            sys.exit(out.returncode)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["setting"] = label
        results.append(res)
    return results


def print_results(results, args):
    """Human-readable summary of the children's results."""
    print("TensorFlow 2.21 CPU anchor on this machine: ~35,000 nt/s for the 5-model ensemble")
    print("best of --repeats runs; matmul reference measured between the runs (shared machines are noisy)")
    for r in results:
        mm = r["matmul_gflops"]
        print(
            f"\n[{r['setting']}] CORETYPE={r['OPENBLAS_CORETYPE']} L2={r['OPENBLAS_L2_SIZE']} "
            f"core={r.get('openblas_core')} cpus={r['cpus']} weights={r['weights']} "
            f"load average after={r.get('loadavg_after')}"
        )
        print(
            f"  numpy float32 matmul: square 2048 {mm['square_2048']:.1f} GFLOP/s; "
            f"conv-shaped {mm['conv_shaped_1024x1312x32']:.1f} GFLOP/s"
        )
        for mode in [m for m in list(args.modes) + list(ONNX_MODES) if m in r]:
            m = r[mode]
            print(
                f"  {mode:8s}: {m['nt_per_s']:>8,} nt/s ({r['models']} models, {r['length']:,} nt, "
                f"{m['seconds']} s); "
                f"{m['gflops_effective']} GFLOP/s effective (1.376 MFLOP/nt/model) = "
                f"{100 * m['share_of_square_matmul']:.0f}% of square matmul"
            )
        if "memory_2mb_one_model" in r:
            print(f"  2-Mb sequence: peak RSS {r['memory_2mb_one_model']['peak_rss_mb']} MB")
        if "onnx_max_abs_diff_vs_numpy" in r:
            diffs = ", ".join(f"{k} {v:.2e}" for k, v in r["onnx_max_abs_diff_vs_numpy"].items())
            print(f"  onnxruntime {r['onnxruntime']} (segment {r['onnx_segment']:,}): max |p_onnx - p_numpy| {diffs}")
        if "memory_2mb_one_model_onnx" in r:
            print(f"  2-Mb sequence, onnx backend: peak RSS {r['memory_2mb_one_model_onnx']['peak_rss_mb']} MB")


def main():
    """Run the benchmark (in child processes unless ``--single``) and print its results."""
    args = parse_args()
    if args.single:
        res = run_single(args)
        print(json.dumps(res) if args.json else json.dumps(res, indent=1))
        return
    results = run_children(args)
    if args.json:
        print(json.dumps(results))
        return
    print_results(results, args)


if __name__ == "__main__":
    main()
