"""fastbuild variants against SpliceAI 1.3.1's own CLI: same VCF, same machine, same threads, one run.

Draws ``--n`` seeded variants on the GRCh37 chr22 slice (SNVs and indels, in and near genes, as
``benchmarks/spliceai_oracle/make_fixture.py`` does), runs ``spliceai`` from the oracle's virtual
environment (``--venv``, with the shims of ``benchmarks/spliceai_oracle`` on PYTHONPATH and
TensorFlow held to ``--threads`` threads) and ``fastbuild variants`` (``--threads``, one process)
on that VCF, then prints each one's wall time (start-up included) and variants per hour, the
ratio, the CPU, and whether the two outputs agree.

Usage::

    python benchmarks/bench_variants.py --n 120 --threads 2 --distance 50
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "spliceai_oracle"))
sys.path.insert(0, str(HERE))

from machine import cpu_name  # noqa: E402
from make_fasta import read_region, write_padded  # noqa: E402
from make_fixture import HEADER, SLICE, TABLE, _alleles, _position, make_records, slice_genes  # noqa: E402


def _thread_env(threads: int) -> dict:
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
            "NUMBA_NUM_THREADS")
    return {**os.environ, **{k: str(threads) for k in keys}, "TF_NUM_INTEROP_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def _timed(cmd: list, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the command and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_spliceai(venv: Path, vin: Path, vout: Path, fasta: Path, distance: int, threads: int) -> tuple:
    """(wall, CPU) seconds of SpliceAI's CLI on ``vin`` (annotation grch37, -M 0)."""
    env = {**_thread_env(threads), "PYTHONPATH": str(HERE / "spliceai_oracle")}
    cmd = [str(venv / "bin" / "spliceai"), "-I", str(vin), "-O", str(vout), "-R", str(fasta), "-A", "grch37",
           "-D", str(distance), "-M", "0"]
    return _timed(cmd, env)


def run_fastbuild(vin: Path, vout: Path, fasta: Path, distance: int, threads: int) -> tuple:
    """(wall, CPU) seconds of ``fastbuild variants`` on ``vin`` (a fresh process: start-up included)."""
    cmd = [sys.executable, "-m", "fastbuild", "variants", "-I", str(vin), "-O", str(vout), "-R", str(fasta),
           "-A", str(TABLE), "-D", str(distance), "-M", "0", "--threads", str(threads), "--no-progress"]
    return _timed(cmd, _thread_env(threads))


def make_clustered(n: int, seed: int, per_site: int, spread: int = 150) -> list[tuple[int, str, str]]:
    """``n`` distinct records drawn ``per_site`` at a time within ``spread`` bases of one site (a
    position drawn as :func:`make_fixture.make_records` draws them): the density of variant sets
    gathered around exons and splice sites (ClinVar, a gene panel, saturation mutagenesis)."""
    import numpy as np

    _, first, seq = read_region(SLICE)
    genes = slice_genes(first, first + len(seq) - 1)
    rng = np.random.default_rng(seed)
    out: set = set()
    while len(out) < n:
        site = _position(rng, genes)
        for _ in range(per_site):
            pos = site + int(rng.integers(-spread, spread + 1))
            alleles = _alleles(rng, seq, first, pos) if first <= pos < first + len(seq) - 12 else None
            if alleles is not None and len(out) < n:
                out.add((pos, *alleles))
    return sorted(out)


def make_dense(n: int, seed: int, per_kb: float) -> list[tuple[int, str, str]]:
    """``n`` distinct records spread uniformly over consecutive genes of the slice at ``per_kb``
    variants per kilobase of gene span (about 1 per kb: one person's genome; gnomAD: far more)."""
    import numpy as np

    _, first, seq = read_region(SLICE)
    genes = sorted(slice_genes(first, first + len(seq) - 1), key=lambda g: g["start"])
    rng = np.random.default_rng(seed)
    need, spans = n / per_kb * 1000, []
    for g in genes[int(rng.integers(len(genes))):] + genes:
        if sum(e - s for s, e in spans) >= need:
            break
        spans.append((g["start"], g["end"]))
    lengths = np.array([e - s + 1 for s, e in spans], dtype=np.float64)
    out: set = set()
    while len(out) < n:
        s, e = spans[int(rng.choice(len(spans), p=lengths / lengths.sum()))]
        pos = int(rng.integers(s, e + 1))
        alleles = _alleles(rng, seq, first, pos) if first <= pos < first + len(seq) - 12 else None
        if alleles is not None:
            out.add((pos, *alleles))
    return sorted(out)


def _entries(path: Path) -> list[str]:
    return [line.split("\t")[7] for line in path.read_text().splitlines() if line and not line.startswith("#")]


def main(argv=None) -> None:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=120, help="variants")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--distance", type=int, default=50)
    p.add_argument("--per-kb", type=float,
                   help="instead: variants spread uniformly over consecutive genes at this density (1: about one "
                        "person's genome)")
    p.add_argument("--per-site", type=int, default=1,
                   help="variants drawn around each drawn site (1: scattered, as the oracle fixture; e.g. 10: "
                        "clustered as variant sets around exons are)")
    p.add_argument("--venv", type=Path, default=Path("/tmp/spliceai_venv"))
    p.add_argument("--fasta", type=Path, default=Path("/tmp/spliceai_oracle_chr22.fa"))
    p.add_argument("--skip-spliceai", type=float, metavar="SECONDS",
                   help="do not run SpliceAI; use this wall time measured before (same VCF and options)")
    args = p.parse_args(argv)
    if not args.fasta.exists():
        _, first, seq = read_region(SLICE)
        write_padded(args.fasta, "22", first, seq)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vin = tmp / "in.vcf"
        if args.per_kb:
            records = make_dense(args.n, args.seed, args.per_kb)
        elif args.per_site > 1:
            records = make_clustered(args.n, args.seed, args.per_site)
        else:
            records = make_records(args.n, args.seed)
        body = "".join(f"22\t{q}\t.\t{r}\t{a}\t.\t.\t.\n" for q, r, a in records)
        vin.write_text(HEADER + body)
        t_fb = run_fastbuild(vin, tmp / "fastbuild.vcf", args.fasta, args.distance, args.threads)
        t_sa = (args.skip_spliceai, float("nan")) if args.skip_spliceai else run_spliceai(
            args.venv, vin, tmp / "spliceai.vcf", args.fasta, args.distance, args.threads)
        same = None if args.skip_spliceai else _entries(tmp / "spliceai.vcf") == _entries(tmp / "fastbuild.vcf")
    (w_sa, c_sa), (w_fb, c_fb) = t_sa, t_fb
    rate_sa, rate_fb = args.n / w_sa * 3600, args.n / w_fb * 3600
    layout = f"{args.per_kb} per kb of genes" if args.per_kb else f"{args.per_site} per site"
    print(f"CPU: {cpu_name()}; threads {args.threads}; {args.n} variants (seed {args.seed}, {layout}), "
          f"-D {args.distance} -M 0; load average before: {load:.1f}")
    print(f"SpliceAI 1.3.1 CLI:  {w_sa:8.1f} s wall {c_sa:8.1f} s CPU  {rate_sa:10,.0f} variants/hour")
    print(f"fastbuild variants:  {w_fb:8.1f} s wall {c_fb:8.1f} s CPU  {rate_fb:10,.0f} variants/hour")
    print(f"ratio: {rate_fb / rate_sa:.1f}x by wall time, {c_sa / c_fb:.1f}x by CPU time; outputs identical: {same}")


if __name__ == "__main__":
    main()
