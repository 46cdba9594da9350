"""Throughput of every kernel (positions/s) and its speed-up over the naive twin.

Run::

    pytest benchmarks/bench_kernels.py --benchmark-enable --benchmark-columns=min,median,rounds

Single thread, sorted positions, 500-nt window (left=250, right=249).  Each benchmark stores
``positions_per_s`` (from the minimum round time), ``twin_positions_per_s`` (the twin in
tests/kernels/naive.py timed on a small sample) and ``speedup`` in ``benchmark.extra_info``;
``--benchmark-json=FILE`` saves them, and a summary is printed at the end of the session.

Batch sizes are chosen so that each output stays below glibc's 32 MiB mmap threshold: on this
VM first-touch page faults of fresh memory run at only ~0.5 GB/s and would otherwise dominate
(a pipeline calling the kernels in batches reuses its memory the same way).
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastbuild_kernels as kernels  # noqa: E402

_spec = importlib.util.spec_from_file_location("kernels_naive", ROOT / "tests" / "kernels" / "naive.py")
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)

N = 2_000_000
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, N).astype(np.uint8)
    codes[rng.integers(0, N, 2000)] = 4
    p = rng.dirichlet([0.2, 0.2, 3.0], N).astype(np.float32)
    donor, acceptor, neither = (np.ascontiguousarray(p[:, i]) for i in range(3))
    sites_d = np.sort(rng.integers(0, N, 4000))
    sites_a = np.sort(rng.integers(0, N, 4000))
    pred, _ = kernels.label_positions(donor, acceptor, sites_d, sites_a)
    dist = kernels.nearest_site_distance(np.arange(N), np.concatenate([sites_d, sites_a]))
    maxp = np.maximum(donor, acceptor)
    return dict(codes=codes, donor=donor, acceptor=acceptor, neither=neither, sites_d=sites_d,
                sites_a=sites_a, pred=pred, dist=dist, maxp=maxp)


def _twin_rate(fn, n_items):
    t = time.perf_counter()
    fn()
    return n_items / (time.perf_counter() - t)


def _record(benchmark, name, n_positions, twin_rate):
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing measured
        return
    best = stats.stats.min
    rate = n_positions / best
    benchmark.extra_info.update(positions=n_positions, positions_per_s=rate,
                                twin_positions_per_s=twin_rate, speedup=rate / twin_rate)
    RESULTS[name] = dict(rate=rate, twin=twin_rate)


def _bench(benchmark, fn):
    return benchmark.pedantic(fn, rounds=7, iterations=1, warmup_rounds=1)


def test_encode(benchmark, data):
    text = bytes(np.frombuffer(b"ACGTN", np.uint8)[data["codes"]])
    _bench(benchmark, lambda: kernels.encode(text))
    twin = _twin_rate(lambda: naive.encode(text[:20_000]), 20_000)
    _record(benchmark, "encode", len(text), twin)


def test_reverse_complement(benchmark, data):
    codes = data["codes"]
    _bench(benchmark, lambda: kernels.reverse_complement(codes))
    twin = _twin_rate(lambda: naive.reverse_complement(codes[:20_000]), 20_000)
    _record(benchmark, "reverse_complement", N, twin)


def test_kmer_counts_k3(benchmark, data):
    codes = data["codes"]
    pos = np.arange(500_000, 600_000)  # 100k positions -> 12.8 MB output
    _bench(benchmark, lambda: kernels.kmer_counts(codes, 3, pos))
    twin = _twin_rate(lambda: naive.kmer_counts(codes, 3, pos[:20]), 20)
    _record(benchmark, "kmer_counts k=3", len(pos), twin)


def test_kmer_counts_sparse_k6(benchmark, data):
    codes = data["codes"]
    pos = np.arange(500_000, 510_000)  # 10k positions x ~470 k-mers -> 28 MB output
    _bench(benchmark, lambda: kernels.kmer_counts_sparse(codes, 6, pos))
    twin = _twin_rate(lambda: naive.kmer_counts_sparse(codes, 6, pos[:20]), 20)
    _record(benchmark, "kmer_counts_sparse k=6", len(pos), twin)


def test_gc_content(benchmark, data):
    codes = data["codes"]
    pos = np.arange(500_000, 1_500_000)
    _bench(benchmark, lambda: kernels.gc_content(codes, pos))
    twin = _twin_rate(lambda: naive.gc_content(codes, pos[:20]), 20)
    _record(benchmark, "gc_content", len(pos), twin)


def test_sequence_complexity(benchmark, data):
    codes = data["codes"]
    pos = np.arange(500_000, 1_500_000)
    _bench(benchmark, lambda: kernels.sequence_complexity(codes, pos))
    twin = _twin_rate(lambda: naive.sequence_complexity(codes, pos[:20]), 20)
    _record(benchmark, "sequence_complexity", len(pos), twin)


def test_nearest_site_distance(benchmark, data):
    pos = np.arange(N)
    sites = np.concatenate([data["sites_d"], data["sites_a"]])
    _bench(benchmark, lambda: kernels.nearest_site_distance(pos, sites))
    twin = _twin_rate(lambda: naive.nearest_site_distance(pos[:200], sites), 200)
    _record(benchmark, "nearest_site_distance", N, twin)


def test_label_positions(benchmark, data):
    d, a, sd, sa = data["donor"], data["acceptor"], data["sites_d"], data["sites_a"]
    _bench(benchmark, lambda: kernels.label_positions(d, a, sd, sa))
    m = 2000
    twin = _twin_rate(lambda: naive.label_positions(d[:m], a[:m], sd[sd < m], sa[sa < m]), m)
    _record(benchmark, "label_positions", N, twin)


def test_context_features(benchmark, data):
    m = 150_000  # 47 float32 rows -> 28 MB output
    d, a, nn = data["donor"][:m], data["acceptor"][:m], data["neither"][:m]
    _bench(benchmark, lambda: kernels.context_features(d, a, nn))
    twin = _twin_rate(lambda: naive.context_features(d[:500], a[:500], nn[:500]), 500)
    _record(benchmark, "context_features", m, twin)


def test_downsample_mask(benchmark, data):
    pred, maxp, dist = data["pred"], data["maxp"], data["dist"]
    _bench(benchmark, lambda: kernels.downsample_mask(pred, maxp, dist, seed=1))
    m = 20_000
    twin = _twin_rate(lambda: naive.downsample_mask(pred[:m], maxp[:m], dist[:m], seed=1), m)
    _record(benchmark, "downsample_mask", N, twin)


def test_zz_summary(capsys):
    """Print the table (runs last in file order)."""
    if not RESULTS:
        pytest.skip("benchmarks disabled")
    with capsys.disabled():
        print("\n\nkernel                       M positions/s   twin positions/s   speed-up")
        for name, r in RESULTS.items():
            print(f"{name:28s} {r['rate'] / 1e6:14.1f} {r['twin']:18.0f} {r['rate'] / r['twin']:10.0f}x")
