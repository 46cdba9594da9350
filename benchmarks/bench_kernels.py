"""Throughput of every kernel (positions/s) and its speed-up over the naive twin.

Run::

    pytest benchmarks/bench_kernels.py --benchmark-enable --benchmark-columns=min,median,rounds

Single thread, sorted positions, 500-nt window (left=250, right=249).  Each benchmark stores
``positions_per_s`` (from the minimum round time), ``twin_positions_per_s`` (the twin in
tests/kernels/naive.py timed on a small sample) and ``speedup`` in ``benchmark.extra_info``;
``--benchmark-json=FILE`` saves them, and a summary is printed at the end of the session.

k-mer size sweep (a script, not a pytest benchmark)::

    python benchmarks/bench_kernels.py --sweep [--max-gb 2] [--stride 1]

times ``kmer_counts`` (dense) and ``kmer_counts_sparse`` for k = 3, 5, 6 over 1 k, 100 k, 2 M
and 5 M sorted positions (one core, default 500-nt window, random ACGT with 0.1% N spanning
the positions), side by side with the previous implementation (``_old_kmer_kernel``, a copy
of the kernel before the blocked rewrite), interleaved round by round in one process.  Cases
whose output would exceed ``--max-gb`` GiB are skipped and listed as such.

Batch sizes are chosen so that each output stays below glibc's 32 MiB mmap threshold: on this
VM first-touch page faults of fresh memory run at only ~0.5 GB/s and would otherwise dominate
(a pipeline calling the kernels in batches reuses its memory the same way).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import time

if __name__ == "__main__":
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # the sweep runs on one core

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastbuild_kernels as kernels  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from fastbuild_kernels import kernel  # noqa: E402
from fastbuild_kernels import kmers as _kmers  # noqa: E402

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


# ------------------------------------------------------------------------- k-mer size sweep
# The k-mer kernel as it was before the blocked rewrite (column-per-position dense writes;
# sparse rows always merged), kept verbatim so that old and new are timed in one process.
_OLD_DENSE, _OLD_SPARSE_COUNT, _OLD_SPARSE_FILL = 0, 1, 2


@kernel
def _old_kmer_kernel(codes, k, positions, left, right, mode, span_lo, ids, counts, touched,
                 dense, indptr, out_ids, out_cnt):
    """One sweep over ``positions`` with a sliding k-mer count table.

    mode 0: write dense[:, i]; mode 1: fill indptr (CSR row sizes); mode 2: fill out_ids and
    out_cnt (needs indptr and the ids computed by mode 1).  ``counts`` must be all-zero on
    entry and is left all-zero on exit in modes 1 and 2.  (Helpers are written inline: numba's
    ``inline="always"`` pass alone cost ~0.1 s of compile time.)
    """
    n = codes.shape[0]
    m = positions.shape[0]
    K = counts.shape[0]
    if mode != _OLD_SPARSE_FILL:
        # ids[s] = rank of the k-mer starting at codes[span_lo + s], or -1 if it has an N
        mask = (1 << (2 * k)) - 1
        code = 0
        run = 0
        stop = span_lo + ids.shape[0] + k - 1 if ids.shape[0] > 0 else span_lo  # never past codes' end
        for t in range(span_lo, stop):
            c = np.int64(codes[t])
            if c >= 4:
                run = 0
                code = 0
            else:
                code = ((code << 2) | c) & mask
                run += 1
            s = t - span_lo - k + 1
            if s >= 0:
                ids[s] = code if run >= k else -1
    record = mode == _OLD_SPARSE_FILL
    distinct = 0
    prev0 = 0
    prev1 = 0  # mode 2: the previous row is out[prev0:prev1]
    cur_a = 0
    cur_b = 0  # current window's k-mer starts, as [cur_a, cur_b) indices into ids
    for i in range(m):
        p = positions[i]
        # (ternaries instead of min/max: each builtin min/max call site costs compile time)
        a = (p - left if p > left else 0) - span_lo
        b = (p + right + 1 if p + right + 1 < n else n) - span_lo - k + 1
        if b < a:
            b = a
        disjoint = (b if b < cur_b else cur_b) <= (a if a > cur_a else cur_a)
        if mode == _OLD_DENSE and disjoint and cur_b - cur_a > K:
            # disjoint windows and clearing the table is cheaper than removing
            counts[:] = 0
            cur_a = a
            cur_b = a
        elif mode == _OLD_SPARSE_FILL and disjoint:
            # disjoint windows (unsorted or sparse positions): clear the old window and build
            # the row from the new one alone (merge against an empty previous row)
            for t in range(cur_a, cur_b):
                if ids[t] >= 0:
                    counts[ids[t]] = 0
            cur_a = a
            cur_b = a
            prev1 = prev0
        # slide [cur_a, cur_b) -> [a, b): remove old-minus-new, add new-minus-old (each at
        # most two intervals, as both window ends are monotone in p); count distinct changes
        # and (mode 2) record the changed ids
        nt = 0
        for part in range(4):
            if part == 0:
                s, e = cur_a, (cur_b if cur_b < a else a)
            elif part == 1:
                s, e = (b if b > cur_a else cur_a), cur_b
            elif part == 2:
                s, e = a, (b if b < cur_a else cur_a)
            else:
                s, e = (a if a > cur_b else cur_b), b
            for t in range(s, e):
                j = ids[t]
                if j >= 0:
                    c = counts[j]
                    if part >= 2:
                        counts[j] = c + 1
                        if c == 0:
                            distinct += 1
                    else:
                        counts[j] = c - 1
                        if c == 1:
                            distinct -= 1
                    if record:
                        touched[nt] = j
                        nt += 1
        cur_a = a
        cur_b = b
        if mode == _OLD_DENSE:
            # column write straight into the [K, m] output (measured faster than a
            # transposed [m, K] buffer or a blocked transpose: 31 vs 12-15 M pos/s, k=3)
            col = dense[:, i]
            for j in range(K):
                col[j] = counts[j]
        elif mode == _OLD_SPARSE_COUNT:
            indptr[i + 1] = indptr[i] + distinct
        else:
            # row i = row i-1 merged with the sorted, de-duplicated changed k-mers.
            # Shell sort of touched[:nt] (nt is ~2 for sorted, densely spaced positions).
            gap = 1
            while gap < nt // 3:
                gap = 3 * gap + 1
            while gap >= 1:
                for g in range(gap, nt):
                    x = touched[g]
                    h = g
                    while h >= gap and touched[h - gap] > x:
                        touched[h] = touched[h - gap]
                        h -= gap
                    touched[h] = x
                gap //= 3
            dst = indptr[i]
            src = prev0
            q = 0
            while True:
                if q < nt:
                    u = touched[q]
                    q += 1
                    if q < nt and touched[q] == u:
                        continue
                    lo = src  # lower bound of u in out_ids[src:prev1] (sorted)
                    hi = prev1
                    while lo < hi:
                        mid = (lo + hi) >> 1
                        if out_ids[mid] < u:
                            lo = mid + 1
                        else:
                            hi = mid
                    pos = lo
                else:
                    u = -1  # sentinel: copy the rest of the previous row
                    pos = prev1
                # copy the unchanged run out[src:pos] -> out[dst:...] (never overlapping);
                # 1-D slice views let LLVM vectorise the copies
                length = pos - src
                id_src = out_ids[src:pos]
                id_dst = out_ids[dst:dst + length]
                for r in range(length):
                    id_dst[r] = id_src[r]
                cn_src = out_cnt[src:pos]
                cn_dst = out_cnt[dst:dst + length]
                for r in range(length):
                    cn_dst[r] = cn_src[r]
                dst += length
                src = pos
                if u < 0:
                    break
                if src < prev1 and out_ids[src] == u:
                    src += 1  # replaced (or dropped) below
                if counts[u] > 0:
                    out_ids[dst] = u
                    out_cnt[dst] = counts[u]
                    dst += 1
            prev0 = indptr[i]
            prev1 = indptr[i + 1]
    if mode != _OLD_DENSE:
        for t in range(cur_a, cur_b):  # back to all-zero for the next sweep
            if ids[t] >= 0:
                counts[ids[t]] = 0


def _old_run(codes, k, positions, left, right, sparse):
    """Allocate buffers (outside numba, see the compile-time note) and run the kernel."""
    n = codes.shape[0]
    m = positions.shape[0]
    K = 4**k
    span_lo = 0
    n_ids = 0
    if m:
        span_lo = max(0, int(positions.min()) - left)
        span_hi = min(n, int(positions.max()) + right + 1)
        n_ids = max(0, span_hi - span_lo - k + 1)
    ids = np.empty(n_ids, np.int32)
    counts = np.zeros(K, np.uint16)  # <= 65535 per window (checked by the wrapper)
    touched = np.empty(2 * (left + right + 2) if sparse else 0, np.int32)
    dense = np.empty((0, 0) if sparse else (K, m), np.uint16)
    indptr = np.zeros(m + 1 if sparse else 0, np.int64)
    out_ids = np.empty(0, np.int32)
    out_cnt = np.empty(0, np.uint16)
    if not sparse:
        if m:
            _old_kmer_kernel(codes, k, positions, left, right, _OLD_DENSE, span_lo, ids, counts, touched,
                         dense, indptr, out_ids, out_cnt)
        return dense
    if m:
        _old_kmer_kernel(codes, k, positions, left, right, _OLD_SPARSE_COUNT, span_lo, ids, counts,
                     touched, dense, indptr, out_ids, out_cnt)
        out_ids = np.empty(int(indptr[m]), np.int32)
        out_cnt = np.empty(int(indptr[m]), np.uint16)
        _old_kmer_kernel(codes, k, positions, left, right, _OLD_SPARSE_FILL, span_lo, ids, counts,
                     touched, dense, indptr, out_ids, out_cnt)
    return indptr, out_ids, out_cnt


def _old_kmer_counts(codes, k, positions, left=250, right=249, sparse=False):
    codes, k, positions, left, right = _kmers._check_common(codes, k, positions, left, right, _kmers.MAX_K)
    return _old_run(codes, k, positions, left, right, sparse)


SWEEP_SIZES = (1_000, 100_000, 2_000_000, 5_000_000)
SWEEP_CASES = (("dense", 3), ("dense", 5), ("dense", 6), ("sparse", 3), ("sparse", 5), ("sparse", 6))


def _time_pair(fns, calls, rounds):
    """Interleaved rounds of ``calls`` calls each; best (wall, thread-CPU) seconds per call."""
    best = [[float("inf"), float("inf")] for _ in fns]
    for _ in range(rounds):
        for slot, fn in enumerate(fns):
            w, c = time.perf_counter(), time.thread_time()
            for _ in range(calls):
                fn()
            w, c = (time.perf_counter() - w) / calls, (time.thread_time() - c) / calls
            best[slot][0] = min(best[slot][0], w)
            best[slot][1] = min(best[slot][1], c)
    return best


def _write_floor(nbytes, calls, rounds):
    """Best seconds to allocate ``nbytes`` of fresh memory and write every byte once."""

    def alloc_fill():
        np.empty(nbytes, np.uint8).fill(1)

    return _time_pair((alloc_fill,), calls, rounds)[0][0]


def _same(a, b):
    if isinstance(a, tuple):
        return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b)


def sweep(max_gb=2.0, stride=1, sizes=SWEEP_SIZES, cases=SWEEP_CASES, shuffle=False):
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs visible; kernels single-threaded)")
    print(f"numpy {np.__version__}, numba {sys.modules['numba'].__version__}; "
          f"window left=250 right=249; {'unsorted (shuffled)' if shuffle else 'sorted'} positions, stride {stride}; "
          f"random ACGT with 0.1% N; output cap {max_gb:g} GiB")
    print("positions/s from the best of interleaved rounds (wall clock; thread CPU time in brackets)")
    print()
    print("floor: m / (time to allocate and fill an output of the same size), the rate at which fresh")
    print("memory of that size can be written at all (the page zeroing by the OS counts twice)")
    print()
    head = (f"{'form':6s} {'k':>2s} {'positions':>10s} {'new M/s':>16s} {'old M/s':>16s} {'new/old':>8s} "
            f"{'floor M/s':>10s}  output")
    print(head)
    print("-" * len(head))
    rng = np.random.default_rng(0)
    cap = max_gb * 2**30
    for form, k in cases:
        sparse = form == "sparse"
        nnz_per_row = None
        for m in sizes:
            span = m * stride + 500
            codes = rng.integers(0, 4, span).astype(np.uint8)
            codes[rng.integers(0, span, span // 1000)] = 4
            pos = np.arange(250, 250 + m * stride, stride, dtype=np.int64)
            if shuffle:
                rng.shuffle(pos)
            if sparse:
                if nnz_per_row is None:  # from a 1 k sample
                    nnz_per_row = kernels.kmer_counts_sparse(codes, k, pos[:1000])[0][-1] / min(m, 1000)
                nbytes = m * (8 + 6 * nnz_per_row)
            else:
                nbytes = 2 * 4**k * m
            size = f"{nbytes / 2**20:,.0f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:,.0f} KiB"
            if nbytes > cap:
                print(f"{form:6s} {k:2d} {m:10,d} {'skipped':>16s} {'':16s} {'':8s}  {size} > {max_gb:g} GiB")
                continue

            def new(codes=codes, pos=pos, k=k, sparse=sparse):
                return (kernels.kmer_counts_sparse if sparse else kernels.kmer_counts)(codes, k, pos)

            def old(codes=codes, pos=pos, k=k, sparse=sparse):
                return _old_kmer_counts(codes, k, pos, sparse=sparse)

            if not _same(new(), old()):  # also the warm-up (compile, first touch)
                raise AssertionError(f"old and new differ: {form} k={k} m={m}")
            est = 1e-6 * m * (1 if not sparse else 2) * (4**k / 64 if k > 3 else 1) / 20 + 1e-5
            calls = max(1, int(0.05 / est))
            rounds = 5 if est * calls < 0.5 else 3
            (nw, nc), (ow, oc) = _time_pair((new, old), calls, rounds)
            floor = _write_floor(int(nbytes), calls, rounds)
            print(f"{form:6s} {k:2d} {m:10,d} {m / nw / 1e6:7.1f} ({m / nc / 1e6:6.1f}) "
                  f"{m / ow / 1e6:7.1f} ({m / oc / 1e6:6.1f}) {ow / nw:7.2f}x {m / floor / 1e6:10.1f}  {size}",
                  flush=True)
            del codes, pos


def _main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", action="store_true", help="run the k-mer size sweep (old vs new)")
    ap.add_argument("--max-gb", type=float, default=2.0, help="skip cases whose output exceeds this (GiB)")
    ap.add_argument("--stride", type=int, default=1, help="distance between consecutive positions")
    ap.add_argument("--shuffle", action="store_true", help="unsorted positions (random order)")
    ap.add_argument("--sizes", type=lambda x: tuple(int(v) for v in x.split(",")), default=SWEEP_SIZES,
                    help="comma-separated position counts")
    ap.add_argument("--cases", type=lambda x: tuple((c.split(":")[0], int(c.split(":")[1])) for c in x.split(",")),
                    default=SWEEP_CASES, help="comma-separated form:k pairs, e.g. dense:3,sparse:6")
    args = ap.parse_args(argv)
    if not args.sweep:
        ap.error("nothing to do: pass --sweep (the per-kernel benchmarks run under pytest, see above)")
    sweep(args.max_gb, args.stride, args.sizes, args.cases, args.shuffle)


if __name__ == "__main__":
    _main()
