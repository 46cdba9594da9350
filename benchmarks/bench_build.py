#!/usr/bin/env python3
"""Builder benchmark: genes/hour, positions/s and peak RSS, side by side with a baseline.

Runs ``fastbuild build`` in child processes for several gene counts and ``--batch-rows``
values, sampling the resident memory of the whole process tree (workers included) every
20 ms, then runs the reference-style baseline (benchmarks/reference_baseline.py) and fastbuild
on the same small gene set and reports the speed-up.

Example (whole Arabidopsis chr1, given a score store for it)::

    python benchmarks/bench_build.py --reference REF --scores SCORES \
        --genes 1000 5000 all --batch-rows 20000 500000 --jobs 2 --baseline-genes 20

With no inputs it benchmarks the embedded demo (its shipped scores).
Also usable under pytest-benchmark: ``pytest benchmarks/bench_build.py --benchmark-enable``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _tree_rss_kib(root: int) -> tuple[int, int]:
    """Resident memory (KiB) of ``root`` and all its descendants, and of the largest one."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
            ppid = int(parts[1])
            with open(f"/proc/{entry}/statm") as fh:
                pages = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, largest, stack = 0, 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        stack.extend(children.get(pid, []))
    return total, largest


def measure(cmd: list[str], env=None) -> dict:
    """Run ``cmd``; return wall seconds, exit status and peak tree RSS (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]

    def sample():
        while proc.poll() is None:
            total, largest = _tree_rss_kib(proc.pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {"wall_s": wall, "peak_rss_mib": peak[0] / 1024, "peak_rss_process_mib": peak[1] / 1024,
            "stdout": out, "stderr": err}


def build_cmd(args, out: Path, n_genes, batch_rows: int, extra=()) -> list[str]:
    cmd = [sys.executable, "-m", "fastbuild", "build", "--output-dir", str(out), "--no-progress",
           "--batch-rows", str(batch_rows), "--jobs", str(args.jobs), "--kmer-sizes", *map(str, args.kmer_sizes),
           "--seed", "1"]
    for flag in ("fasta", "gtf", "reference", "scores"):
        value = getattr(args, flag)
        if value:
            cmd += [f"--{flag}", value]
    if n_genes == "all":
        cmd += ["--subset-policy", "all"]
    else:
        cmd += ["--subset-policy", "random", "--n-genes", str(n_genes)]
    return cmd + list(extra)


def fastbuild_run(args, n_genes, batch_rows, workdir: Path, extra=()) -> dict:
    out = workdir / f"fb_{n_genes}_{batch_rows}_{len(extra)}"
    m = measure(build_cmd(args, out, n_genes, batch_rows, extra))
    info = json.loads((out / "build_info.json").read_text())
    m.update(genes=info["genes"], positions=info["positions_scanned"], rows=info["rows"],
             inner_s=info["timings_s"]["total"])
    m["genes_per_hour"] = m["genes"] / m["wall_s"] * 3600
    m["positions_per_s"] = m["positions"] / m["wall_s"]
    return m


def baseline_run(args, gene_ids: list[str], workdir: Path) -> dict:
    """The reference-style baseline on ``gene_ids`` (in-process, timed, tree RSS sampled)."""
    script = workdir / "baseline.py"
    script.write_text(f"""
import json, sys, time
sys.path.insert(0, {str(REPO)!r})
import numpy as np, polars as pl
from benchmarks import reference_baseline as rb
from fastbuild.basemodel.store import ScoreStore
from fastbuild.reference import InputSpec, resolve_inputs, load_reference
from fastbuild.genome import Genome
from fastbuild.coords import to_offset
spec = InputSpec(fasta={args.fasta!r}, annotation={args.gtf!r}, reference={args.reference!r})
inp = resolve_inputs(spec, {args.scores!r})
t0 = time.perf_counter()
with Genome(inp.fasta) as g:
    ann = load_reference(inp, spec, g)
    ids = {gene_ids!r}
    genes = ann.genes.filter(pl.col("gene_id").is_in(ids))
    chrom = genes["chrom"][0]
    text = g._fasta[g._regions[chrom][0].key][:]
    offset = g._regions[chrom][0].start - 1
store = ScoreStore(inp.scores)
frame = store.load(genes["gene_id"].to_list())
scores = {{gid: {{c: df[c].to_numpy() for c in ("donor", "acceptor", "neither")}}
          for (gid,), df in frame.group_by(["gene_id"])}}
sites = {{}}
for info in genes.iter_rows(named=True):
    s = ann.splice_sites.filter(pl.col("gene_id") == info["gene_id"])
    a = (info["start"], info["end"], info["strand"])
    def offsets(kind):
        return sorted(set(to_offset(s.filter(pl.col("site_type") == kind)["position"].to_numpy(), *a).tolist()))
    sites[info["gene_id"]] = (offsets("donor"), offsets("acceptor"))
rows_in = [dict(r, start=r["start"] - offset, end=r["end"] - offset) for r in genes.iter_rows(named=True)]
n = rb.run(rows_in, text, scores, sites, {str(workdir / 'baseline.parquet')!r},
           k={args.kmer_sizes[0] if args.kmer_sizes else 3})
print(json.dumps({{"rows": n, "positions": int((genes["end"] - genes["start"] + 1).sum()), "genes": genes.height,
                  "inner_s": time.perf_counter() - t0}}))
""")
    m = measure([sys.executable, str(script)])
    m.update(json.loads(m["stdout"].strip().splitlines()[-1]))
    m["genes_per_hour"] = m["genes"] / m["wall_s"] * 3600
    m["positions_per_s"] = m["positions"] / m["wall_s"]
    return m


def _row(name, m) -> str:
    return (f"| {name} | {m['genes']} | {m['positions']:,} | {m.get('rows', 0):,} | {m['wall_s']:.1f} | "
            f"{m['genes_per_hour']:,.0f} | {m['positions_per_s']:,.0f} | {m['peak_rss_mib']:,.0f} | "
            f"{m['peak_rss_process_mib']:,.0f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fasta")
    p.add_argument("--gtf")
    p.add_argument("--reference")
    p.add_argument("--scores")
    p.add_argument("--genes", nargs="+", default=["all"], help="gene counts to build (or 'all')")
    p.add_argument("--batch-rows", nargs="+", type=int, default=[20000])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--kmer-sizes", nargs="+", type=int, default=[3])
    p.add_argument("--baseline-genes", type=int, default=10, help="genes for the baseline comparison (0: skip)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    header = ("| run | genes | positions | rows | wall s | genes/hour | positions/s | peak RSS MiB (all processes) "
              "| peak RSS MiB (largest process) |\n|---|---|---|---|---|---|---|---|---|")
    results = {}
    with tempfile.TemporaryDirectory(prefix="fastbuild-bench-") as tmp:
        work = Path(tmp)
        print(header, flush=True)
        for n in args.genes:
            for br in args.batch_rows:
                m = fastbuild_run(args, n, br, work)
                results[f"fastbuild n={n} batch_rows={br}"] = m
                print(_row(f"fastbuild n={n} batch-rows={br} jobs={args.jobs}", m), flush=True)
        if args.baseline_genes:
            ids = _pick_genes(args, work, args.baseline_genes)
            ids_file = work / "ids.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            fb = fastbuild_run(args, args.baseline_genes, args.batch_rows[0], work,
                               extra=["--gene-ids-file", str(ids_file), "--subset-policy", "custom", "--jobs", "1"])
            base = baseline_run(args, ids, work)
            results["same genes: fastbuild"] = fb
            results["same genes: baseline"] = base
            print(_row(f"same {len(ids)} genes: fastbuild (jobs=1)", fb))
            print(_row(f"same {len(ids)} genes: reference-style baseline", base))
            print(f"\nsame {len(ids)} genes: fastbuild {base['wall_s'] / fb['wall_s']:.0f}x faster in wall time "
                  f"({base['inner_s'] / fb['inner_s']:.0f}x excluding interpreter start-up; fastbuild pays "
                  f"{fb['wall_s'] - fb['inner_s']:.1f} s of interpreter start-up and imports once per run)")
            ours = (v for k, v in results.items() if k.startswith("fastbuild"))
            big = max(ours, key=lambda v: v["genes"], default=None)
            if big is not None:
                print(f"throughput, fastbuild on {big['genes']} genes vs the baseline on {len(ids)} of them: "
                      f"{big['genes_per_hour'] / base['genes_per_hour']:.0f}x genes/hour, "
                      f"{big['positions_per_s'] / base['positions_per_s']:.0f}x positions/s")
    if args.json:
        Path(args.json).write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("stdout", "stderr")}
                                               for k, v in results.items()}, indent=1))
    return 0


def _pick_genes(args, work: Path, n: int) -> list[str]:
    """The first ``n`` genes with splice sites and scores, in genomic order (deterministic)."""
    import polars as pl

    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.genome import Genome
    from fastbuild.reference import InputSpec, load_reference, resolve_inputs

    spec = InputSpec(fasta=args.fasta, annotation=args.gtf, reference=args.reference)
    inp = resolve_inputs(spec, args.scores)
    with Genome(inp.fasta, cache_dir=str(work / "cache")) as g:
        ann = load_reference(inp, spec, g)
    have = set(ScoreStore(inp.scores).genes())
    genes = ann.genes.filter(pl.col("gene_id").is_in(list(have)) & (pl.col("n_splice_sites") > 0))
    return genes["gene_id"].head(n).to_list()


def test_build_demo_benchmark(benchmark, tmp_path):
    """pytest-benchmark: the embedded demo build, in process (positions/s in extra_info)."""
    from fastbuild.builder import build_dataset

    res = benchmark.pedantic(lambda: build_dataset(output_dir=None, progress=False), rounds=3, iterations=1)
    benchmark.extra_info["genes"] = res.info["genes"]
    benchmark.extra_info["positions_per_s"] = res.info["positions_scanned"] / benchmark.stats.stats.mean
    benchmark.extra_info["genes_per_hour"] = res.info["genes"] / benchmark.stats.stats.mean * 3600


if __name__ == "__main__":
    raise SystemExit(main())
