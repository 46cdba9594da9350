"""Benchmark the base-model engines against TensorFlow and this machine's float32 GEMM limit.

One run (one process) times, interleaved round by round, on the same random sequence:

* TensorFlow (a child process in its own venv, ``benchmarks/tf_anchor.py --serve``, with
  ``--tf-python``): ``model.predict`` and ``tf.function``-wrapped members;
* every installed fastbuild engine: numpy (numba + BLAS), onnx (onnxruntime), openvino;
* numpy's float32 matmul (square 2048): the GEMM limit, expressed in nt/s through the model's
  FLOP per scored nucleotide (computed from the weights: 6.93 MFLOP/nt for the 5-model
  SpliceAI ensemble, 10000nt flank);

and reports medians over the rounds, each engine as a ratio to TF ``tf.function`` and as a
share of the GEMM limit::

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf_keras h5py
    flock /tmp/bench.lock python benchmarks/bench_basemodel.py --tf-python /tmp/tfvenv/bin/python
    python benchmarks/bench_basemodel.py --backends numpy openvino --repeats 5 --json
    python benchmarks/bench_basemodel.py --length 1000000 --memory
    python benchmarks/bench_basemodel.py --onnx --onnx-modes onnx onnx-plain   # onnx variants
    python benchmarks/bench_basemodel.py --openblas-sweep   # numpy only, per OpenBLAS setting

``--openblas-sweep`` runs the measurement in child processes: once with the environment as it
is, once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS then picks its kernels for
this CPU), and, when the environment does not set OPENBLAS_CORETYPE, once with it set to Haswell.

Uses the installed SpliceAI weights (``pip install --no-deps spliceai==1.3.1``); without them,
random weights of the same topology (the speed is the same; TensorFlow then cannot run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.machine import cpu_name

ENGINES = ("numpy", "onnx", "openvino")


def flop_per_nt(model) -> float:
    """Multiply-add FLOP per scored nucleotide of the ensemble (flank recomputation excluded):
    2 x every convolution weight (dilated and 1x1) of every member; 6.93e6 for SpliceAI-10k x 5."""
    total = 0
    for net in model.networks:
        total += net.in_w.size + net.out_w.size
        total += sum(np.size(u.w1) + np.size(u.w2) for u in net.units)
        total += sum(np.size(w) for w, _ in net.skips.values())
    return 2.0 * total


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


class TfAnchor:
    """TensorFlow in a child process (``tf_anchor.py --serve`` under ``python``): one timed round per call."""

    def __init__(self, python, weights, length, flank):
        cmd = [python, str(Path(__file__).with_name("tf_anchor.py")), "--serve", "--weights", str(weights),
               "--length", str(length), "--flank", str(flank)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.log = tempfile.TemporaryFile("w+")  # TensorFlow's chatter; shown only if it fails
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=env)
        self.info = self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            sys.exit(f"{self.log.read()[-4000:]}\nthe TensorFlow child exited (rc {self.proc.wait()})")
        return json.loads(line)

    def round(self) -> dict:
        """{"predict": s, "function": s, "max_abs_diff": ...} of one ensemble pass each way."""
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)


NUMPY_MODES = {"pairwise": "numpy", "pairwise1": "numpy-pairwise1", "plain": "numpy-plain"}


def engine_scorers(model, args) -> dict:
    """name -> (callable(codes), runner) for the numpy modes and the installed / requested engines."""
    from fastbuild.basemodel.backends import engine_available
    from fastbuild.basemodel.forward import NumpyRunner

    out = {}
    if "numpy" in args.backends:
        for mode in args.modes:
            r = NumpyRunner(model, args.threads, pairwise=(mode != "plain"), levels=1 if mode == "pairwise1" else 2)
            out[NUMPY_MODES[mode]] = (r.score_sequence, r)
    if args.onnx or ("onnx" in args.backends and engine_available("onnx")):
        out |= onnx_scorers(model, args)
    if "openvino" in args.backends and engine_available("openvino"):
        from fastbuild.basemodel.openvino_backend import OpenVinoRunner

        for prec in args.openvino_precisions:
            r = OpenVinoRunner(model, threads=args.threads, precision=prec, segment=args.openvino_segment)
            out["openvino" if prec == "float32" else f"openvino-{prec}"] = (r.score_sequence, r)
    return out


#: Pause before each timed run: the thread pools of the run before (OpenBLAS's after the GEMM
#: reference, OpenVINO's, onnxruntime's) spin for up to ~0.1 s after their last work and would
#: take CPU time from whichever engine is timed next.
SETTLE_S = 0.25


def time_runs(model, codes, args):
    """Per-round seconds of every scorer (and TF), matmul GFLOP/s per round, and extra info.

    Rounds interleave the matmul reference, every engine and TensorFlow, so that on a shared
    machine each round's measurements are taken under similar load; medians are reported."""
    scorers = engine_scorers(model, args)
    info, outs = {"warmup_seconds": {}}, {}
    for name, (fn, _) in scorers.items():  # full length: JIT, and the openvino bucket compiled
        t0 = time.perf_counter()
        outs[name] = fn(codes)
        info["warmup_seconds"][name] = round(time.perf_counter() - t0, 2)
    tf = TfAnchor(args.tf_python, args.tf_weights, args.length, 2 * model.flank) if args.tf_python else None
    samples, mm = {name: [] for name in scorers}, []
    try:
        for _ in range(args.repeats):
            mm.append(matmul_gflops(0.7))
            for name, (fn, _) in scorers.items():
                time.sleep(SETTLE_S)
                t0 = time.perf_counter()
                fn(codes)
                samples[name].append(time.perf_counter() - t0)
            if tf is not None:
                time.sleep(SETTLE_S)
                r = tf.round()
                samples.setdefault("tf-predict", []).append(r["predict"])
                samples.setdefault("tf-function", []).append(r["function"])
    finally:
        if tf is not None:
            tf.close()
    if tf is not None:
        info["tensorflow"] = tf.info
    ref = outs.get("numpy")
    if ref is not None:  # exactness against the numpy path on the benchmark sequence itself
        info["max_abs_diff_vs_numpy"] = {m: float(np.max(np.abs(o - ref))) for m, o in outs.items() if m != "numpy"}
    info |= engine_versions(scorers)
    for _, runner in scorers.values():
        runner.close()
    return samples, mm, info


def engine_versions(scorers) -> dict:
    """Versions of the engines timed (and the onnx segment, as before)."""
    out = {}
    if any(k.startswith("onnx") for k in scorers):
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
        out["onnx_segment"] = next(r for k, (_, r) in scorers.items() if k.startswith("onnx")).segment
    if any(k.startswith("openvino") for k in scorers):
        import openvino

        out["openvino_version"] = openvino.__version__
    return out


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
        "cpu": cpu_name(),
        "flop_per_nt": flop_per_nt(model),
        "repeats": args.repeats,
    }
    core = openblas_core()
    if core is not None:
        result["openblas_core"] = core
    samples, mm, info = time_runs(model, codes, args)
    result.update(info)
    result["matmul_gflops"] = {k: statistics.median(m[k] for m in mm) for k in mm[0]}
    result["matmul_gflops_max"] = {k: max(m[k] for m in mm) for k in mm[0]}
    limit_nt_s = result["matmul_gflops"]["square_2048"] * 1e9 / result["flop_per_nt"]
    result["gemm_limit_nt_per_s"] = round(limit_nt_s)
    tf_fn = statistics.median(samples["tf-function"]) if "tf-function" in samples else None
    for mode, sec in samples.items():
        med = statistics.median(sec)
        nt_s = args.length / med
        result[mode] = {
            "seconds": round(med, 3),
            "seconds_min": round(min(sec), 3),
            "nt_per_s": round(nt_s),
            "gflops_effective": round(nt_s * result["flop_per_nt"] / 1e9, 1),
            "share_of_gemm_limit": round(nt_s / limit_nt_s, 3),
            "share_of_square_matmul": round(nt_s / limit_nt_s, 3),  # the same; the older name
        }
        if tf_fn is not None:
            result[mode]["vs_tf_function"] = round(tf_fn / med, 3)
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
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians reported)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--backends", nargs="+", default=list(ENGINES), choices=list(ENGINES),
                   help="engines timed (those installed)")
    p.add_argument("--modes", nargs="+", default=["pairwise"], choices=["pairwise", "pairwise1", "plain"],
                   help="numpy forward-pass modes (pairwise: the runner's default, the two-level form, reported "
                        "as 'numpy'; pairwise1: the one-level form)")
    p.add_argument("--tf-python", default=None,
                   help="python of a venv with tensorflow-cpu, tf_keras and h5py: also time TensorFlow")
    p.add_argument("--tf-weights", default=None, help="folder of spliceai1..5.h5 (default: the installed spliceai)")
    p.add_argument("--openvino-precisions", nargs="+", default=["float32"], choices=["float32", "bf16"],
                   help="openvino inference precisions timed ('bf16' is reported as openvino-bf16)")
    p.add_argument("--openvino-segment", type=int, default=None, help="outputs per openvino inference")
    p.add_argument("--memory", action="store_true", help="also score a 2-Mb sequence and report peak RSS")
    p.add_argument("--single", action="store_true", help="print the whole result as JSON (this process only)")
    p.add_argument("--openblas-sweep", action="store_true",
                   help="run in child processes, one per OpenBLAS setting (numpy and onnx only, no TF)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--onnx", action="store_true", help="time the onnx variants of --onnx-modes (extra fastbuild-splice[onnx])"
    )
    p.add_argument(
        "--onnx-modes", nargs="+", default=["onnx"], choices=list(ONNX_MODES), help="onnx variants timed with --onnx"
    )
    p.add_argument(
        "--onnx-segment", type=int, default=None, help="outputs per onnxruntime run (default: the backend's)"
    )
    args = p.parse_args()
    if args.onnx_segment is None:
        from fastbuild.basemodel.onnx_backend import DEFAULT_ONNX_SEGMENT

        args.onnx_segment = DEFAULT_ONNX_SEGMENT
    if args.openvino_segment is None:
        from fastbuild.basemodel.openvino_backend import DEFAULT_OPENVINO_SEGMENT

        args.openvino_segment = DEFAULT_OPENVINO_SEGMENT
    if args.tf_python and args.tf_weights is None:
        from fastbuild.basemodel import find_spliceai_weights

        args.tf_weights = str(find_spliceai_weights()[0].parent)
    return args


def run_children(args):
    """run_single in child processes, one per OpenBLAS setting; their results."""
    child = [sys.executable, __file__, "--single", "--json", "--length", str(args.length), "--repeats",
             str(args.repeats), "--modes", *args.modes, "--backends", *args.backends]
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


MODE_ORDER = ("tf-predict", "tf-function", *NUMPY_MODES.values(), *ONNX_MODES, "openvino", "openvino-bf16")


def print_results(results, args):
    """Human-readable summary of the children's results (--openblas-sweep)."""
    print("median of --repeats interleaved rounds; matmul reference measured between the runs")
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
        for mode in [m for m in MODE_ORDER if m in r]:
            m = r[mode]
            print(
                f"  {mode:8s}: {m['nt_per_s']:>8,} nt/s ({r['models']} models, {r['length']:,} nt, "
                f"{m['seconds']} s); {m['gflops_effective']} GFLOP/s effective "
                f"({r['flop_per_nt'] / 1e6:.2f} MFLOP/nt) = {100 * m['share_of_gemm_limit']:.0f}% of square matmul"
            )
        if "memory_2mb_one_model" in r:
            print(f"  2-Mb sequence: peak RSS {r['memory_2mb_one_model']['peak_rss_mb']} MB")
        if "max_abs_diff_vs_numpy" in r:
            diffs = ", ".join(f"{k} {v:.2e}" for k, v in r["max_abs_diff_vs_numpy"].items())
            print(f"  max |p - p_numpy|: {diffs}")
        if "memory_2mb_one_model_onnx" in r:
            print(f"  2-Mb sequence, onnx backend: peak RSS {r['memory_2mb_one_model_onnx']['peak_rss_mb']} MB")


def print_table(r):
    """The one-run comparison: nt/s, ratio to TF tf.function, share of the GEMM limit."""
    mm = r["matmul_gflops"]
    print(f"CPU: {r['cpu']} ({r['cpus']} CPUs); {r['models']} models ({r['weights']}), {r['length']:,} nt "
          f"+ flanks; medians of {r['repeats']} interleaved rounds; load average after {r.get('loadavg_after')}")
    print(f"GEMM limit: numpy float32 matmul square 2048 {mm['square_2048']:.1f} GFLOP/s / "
          f"{r['flop_per_nt'] / 1e6:.2f} MFLOP/nt = {r['gemm_limit_nt_per_s']:,} nt/s")
    tf = r.get("tensorflow")
    if tf:
        print(f"TensorFlow {tf['tensorflow']} (child process, intra-op threads {tf['intra_op_threads']})")
    versions = [f"{k.removesuffix('_version')} {r[k]}" for k in ("onnxruntime", "openvino_version") if k in r]
    if versions:
        print("engines: " + ", ".join(versions))
    print(f"\n{'engine':14s} {'nt/s':>9s} {'s (median)':>10s} {'vs TF tf.function':>18s} {'of GEMM limit':>14s}")
    for mode in [m for m in MODE_ORDER if m in r]:
        m = r[mode]
        vs = f"{m['vs_tf_function']:.2f}x" if "vs_tf_function" in m else "-"
        share = 100 * m["share_of_gemm_limit"]
        print(f"{mode:14s} {m['nt_per_s']:>9,} {m['seconds']:>10.3f} {vs:>18s} {share:>13.0f}%")
    print(f"{'GEMM limit':14s} {r['gemm_limit_nt_per_s']:>9,}")
    if "max_abs_diff_vs_numpy" in r:
        print("max |p - p_numpy|: " + ", ".join(f"{k} {v:.1e}" for k, v in r["max_abs_diff_vs_numpy"].items()))
    if "warmup_seconds" in r:
        warm = ", ".join(f"{k} {v}" for k, v in r["warmup_seconds"].items())
        print(f"first call (JIT / compile + one pass), s: {warm}")


def main():
    """Run the benchmark (in child processes with ``--openblas-sweep``) and print its results."""
    args = parse_args()
    if not args.openblas_sweep:
        res = run_single(args)
        if args.json:
            print(json.dumps(res))
        elif args.single:
            print(json.dumps(res, indent=1))
        else:
            print_table(res)
        return
    results = run_children(args)
    if args.json:
        print(json.dumps(results))
        return
    print_results(results, args)


if __name__ == "__main__":
    main()
