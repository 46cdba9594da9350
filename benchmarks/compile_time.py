"""Cold compile time and warm (cached) import + first-call time of every kernel.

Usage::

    python benchmarks/compile_time.py            # both measurements, each in a fresh process
    python benchmarks/compile_time.py --child    # (internal) time import + first call here

Cold: ``FASTBUILD_NUMBA_CACHE=0`` in a fresh interpreter, so every kernel is compiled.
Warm: ``FASTBUILD_NUMBA_CACHE=1``, run once to fill the cache, then timed in a fresh
interpreter (``NUMBA_CACHE_DIR`` points at a temporary directory so nothing else interferes).
Times include ``import numpy``/``import numba`` (reported separately).  Wall-clock and CPU
time (``time.process_time``) are both reported: CPU time is robust to other processes
competing for the two cores.  Each measurement is the best of ``--repeat`` fresh processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time


def _first_calls():
    import numpy as np

    import fastbuild_kernels as K

    codes = K.encode(b"ACGTNACGTTGCA" * 10)
    K.reverse_complement(codes)
    pos = np.arange(0, codes.size, 3)
    K.kmer_counts(codes, 3, pos)
    K.kmer_counts_sparse(codes, 6, pos)
    K.gc_content(codes, pos)
    K.sequence_complexity(codes, pos)
    K.nearest_site_distance(pos, np.array([5, 50]))
    p = np.linspace(0, 1, codes.size, dtype=np.float32)
    sites = np.array([3, 40])
    pred, _ = K.label_positions(p, p[::-1].copy(), sites, sites + 1)
    K.context_features(p, p, p)
    K.downsample_mask(pred, p, K.nearest_site_distance(np.arange(codes.size), sites))


def child() -> None:
    c0 = time.process_time()
    t0 = time.perf_counter()
    import numba  # noqa: F401
    import numpy  # noqa: F401

    t1 = time.perf_counter()
    c1 = time.process_time()
    import fastbuild_kernels as kernels  # noqa: F401

    t2 = time.perf_counter()
    _first_calls()
    t3 = time.perf_counter()
    c3 = time.process_time()
    print(json.dumps({"import_numpy_numba_s": t1 - t0, "import_kernels_s": t2 - t1,
                      "first_calls_s": t3 - t2, "total_s": t3 - t0,
                      "kernels_cpu_s": c3 - c1, "total_cpu_s": c3 - c0}))


def _run(cache: bool, cache_dir: str) -> dict:
    env = dict(os.environ, FASTBUILD_NUMBA_CACHE="1" if cache else "0", NUMBA_CACHE_DIR=cache_dir)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    repeat = 3
    if "--repeat" in sys.argv:
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1])
    with tempfile.TemporaryDirectory() as cache_dir:
        colds = [_run(False, cache_dir) for _ in range(repeat)]
        _run(True, cache_dir)  # fill the cache
        warms = [_run(True, cache_dir) for _ in range(repeat)]
    cold = min(colds, key=lambda r: r["total_s"])
    warm = min(warms, key=lambda r: r["total_s"])
    cold_cpu = min(r["kernels_cpu_s"] for r in colds)
    warm_cpu = min(r["total_cpu_s"] for r in warms)
    print(f"cold (cache off): import kernels + compile/first call of all kernels "
          f"{cold['import_kernels_s'] + cold['first_calls_s']:.2f} s wall ({cold_cpu:.2f} s CPU); "
          f"with numpy/numba import {cold['total_s']:.2f} s")
    warm_s = warm['import_kernels_s'] + warm['first_calls_s']
    print(f"warm (cache on):  import kernels + first calls {warm_s:.2f} s wall; "
          f"with numpy/numba import {warm['total_s']:.2f} s wall ({warm_cpu:.2f} s CPU; numpy+numba import "
          f"{warm['import_numpy_numba_s']:.2f} s)")


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        main()
