#!/usr/bin/env python3
"""TensorFlow anchor for the base-model speed target (not part of fastbuild; run it in a separate venv).

Scores a random sequence with the five SpliceAI Keras models through TensorFlow on the CPU and
times it two ways, so fastbuild's numbers can be compared with TensorFlow's on the same machine:

* ``predict``: ``model.predict(x)`` per member, averaged (what SpliceAI itself does);
* ``function``: each member wrapped in ``tf.function`` (traced once, ``training=False``), averaged.

::

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf_keras h5py
    /tmp/tfvenv/bin/python benchmarks/tf_anchor.py --weights DIR_WITH_spliceai1..5.h5 [--length 100000]

(`python -c "from fastbuild.basemodel import find_spliceai_weights as f; print(f()[0].parent)"`
prints DIR where the spliceai extra is installed.) With ``--serve`` it loads and warms up once,
prints one JSON line ``{"ready": ...}``, then times one round of both ways per ``run`` line read
from stdin (one JSON line each) until ``quit``: ``benchmarks/bench_basemodel.py --tf-python``
uses that to interleave TensorFlow with fastbuild's engines.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def load(weights, length, flank):
    """(models, per-member tf.functions, one-hot input [1, length + flank, 4]) with both ways warmed up."""
    import tensorflow as tf
    import tf_keras

    tf.get_logger().setLevel("ERROR")  # no retracing warnings: each member is its own tf.function
    files = sorted(Path(weights).glob("spliceai[1-5].h5"))
    if not files:
        sys.exit(f"no spliceai1..5.h5 in {weights}")
    models = [tf_keras.models.load_model(str(f), compile=False) for f in files]
    idx = np.random.default_rng(0).integers(0, 4, length + flank)
    x = np.zeros((1, idx.size, 4), np.float32)
    x[0, np.arange(idx.size), idx] = 1
    fns = [tf.function(lambda t, m=m: m(t, training=False), jit_compile=False) for m in models]
    xt = tf.constant(x)
    for m, f in zip(models, fns, strict=True):
        f(xt)  # trace
        m.predict(x, verbose=0)
    return models, fns, x


def time_round(models, fns, x) -> dict:
    """Seconds of one ensemble pass each way, and the largest difference between the two outputs."""
    import tensorflow as tf

    t0 = time.perf_counter()
    p = sum(m.predict(x, verbose=0) for m in models) / len(models)
    t1 = time.perf_counter()
    xt = tf.constant(x)
    q = sum(f(xt).numpy() for f in fns) / len(fns)
    t2 = time.perf_counter()
    return {"predict": t1 - t0, "function": t2 - t1, "max_abs_diff": float(np.max(np.abs(p - q)))}


def info(models) -> dict:
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__,
        "models": len(models),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def serve(models, fns, x) -> None:
    """Answer ``run`` lines on stdin with one JSON line of timings each, until ``quit`` or EOF."""
    print(json.dumps({"ready": True, **info(models)}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd == "run":
            print(json.dumps(time_round(models, fns, x)), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--length", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--flank", type=int, default=10_000, help="total context (SpliceAI-10k: 10000)")
    p.add_argument("--serve", action="store_true", help="time one round per 'run' line on stdin (JSON lines)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    models, fns, x = load(args.weights, args.length, args.flank)
    if args.serve:
        serve(models, fns, x)
        return
    rounds = [time_round(models, fns, x) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in rounds) for k in ("predict", "function")}
    res = {**info(models), "length": args.length, "seconds_median": med,
           "nt_per_s": {k: args.length / v for k, v in med.items()}}
    if args.json:
        print(json.dumps(res))
        return
    print(f"tensorflow {res['tensorflow']}: {res['models']} models, {args.length} nt, median of {args.repeats}: "
          f"model.predict {med['predict']:.2f} s = {args.length / med['predict']:,.0f} nt/s; "
          f"tf.function {med['function']:.2f} s = {args.length / med['function']:,.0f} nt/s "
          f"(threads: intra {res['intra_op_threads']}, cpus {res['cpus']})")


if __name__ == "__main__":
    main()
