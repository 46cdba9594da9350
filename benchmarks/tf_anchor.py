#!/usr/bin/env python3
"""TensorFlow anchor for the base-model speed target (not part of fastbuild; run it in a separate venv).

Scores a random sequence with the five SpliceAI Keras models through TensorFlow on the CPU,
the way SpliceAI itself does, and prints nucleotides per second, so fastbuild's numbers can be
compared with TensorFlow's on the same machine::

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf_keras h5py
    /tmp/tfvenv/bin/python benchmarks/tf_anchor.py --weights DIR_WITH_spliceai1..5.h5 [--length 100000]

(`python -c "from fastbuild.basemodel import find_spliceai_weights as f; print(f()[0].parent)"`
prints DIR where the spliceai extra is installed.)
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--length", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--flank", type=int, default=10_000, help="total context (SpliceAI-10k: 10000)")
    args = p.parse_args()
    import tensorflow as tf
    import tf_keras

    files = sorted(Path(args.weights).glob("spliceai[1-5].h5"))
    models = [tf_keras.models.load_model(str(f), compile=False) for f in files]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 4, args.length + args.flank)
    x = np.zeros((1, idx.size, 4), np.float32)
    x[0, np.arange(idx.size), idx] = 1
    fns = [tf.function(m, jit_compile=False) for m in models]
    for f in fns:
        f(x)  # warm-up / trace
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = sum(f(x).numpy() for f in fns) / len(fns)
        best = min(best, time.perf_counter() - t0)
    print(f"tensorflow {tf.__version__}: {len(models)} models, {args.length} nt in {best:.2f} s "
          f"= {args.length / best:,.0f} nt/s (threads: intra {tf.config.threading.get_intra_op_parallelism_threads()}, "
          f"cpus {os.cpu_count()}); output {out.shape}")


if __name__ == "__main__":
    main()
