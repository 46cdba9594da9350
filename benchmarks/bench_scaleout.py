#!/usr/bin/env python3
"""Scale-out benchmark: one build, three ways to run its work units, side by side.

Each round runs, one after another (interleaved, so machine load affects all alike), a
``fastbuild build`` child process of the same plan:

- ``baseline``: the code at ``--baseline-rev`` (default: the last commit before the work
  manager, whose ``--jobs`` was a home-made pool with a feeder thread), ``--jobs 2``;
- ``local``: this code, ``--jobs 2`` (spawn pool harvested in the main thread);
- ``dask``: this code on a 2-worker ``distributed.LocalCluster`` started by this script
  (``--dask-scheduler``), its workers kept warm between rounds as a real cluster's are.

Then the rows of the three are compared, and two probes show how work splits: a plan with
fewer units than workers (one unit, ``--jobs 2`` vs ``--jobs 1``) and the single largest gene.

Inputs: ``--reference`` (tables from ``fastbuild prepare``; default: Arabidopsis chr1 from
../shared, prepared into the work folder) and ``--scores``. Without ``--scores`` a synthetic
score store (tests/fake_scores.py: every annotated site high except every fourth, a few false
peaks, noise) is written for every gene: the builder's work per position does not depend on
the score values, only the number of rows kept does, a little. Example::

    python benchmarks/bench_scaleout.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.bench_build import measure  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402

BASELINE_REV = "e6a2569"  # README: CI time from two fresh-clone runs (before plan/units/finalise)
ATH = REPO.parent / "shared" / "data" / "arabidopsis_chr1"


def prepare_inputs(args, work: Path) -> tuple[str, str]:
    """(reference folder, score store), made in ``work`` when not given."""
    ref = args.reference
    if ref is None:
        ref = str(work / "ref")
        if not (Path(ref) / "prepare_info.json").exists():
            fasta = ATH / "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
            gtf = ATH / "AthaTAIR10_chr1.gtf.gz"
            subprocess.run([sys.executable, "-m", "fastbuild", "prepare", "--fasta", str(fasta), "--gtf", str(gtf),
                            "--out", ref], cwd=REPO, check=True, capture_output=True)
    scores = args.scores
    if scores is None:
        scores = str(work / "fake_scores")
        if not (Path(scores) / "index.parquet").exists():
            import polars as pl

            from tests.fake_scores import write_fake_store

            genes = pl.read_parquet(Path(ref) / "genes.parquet")
            sites = pl.read_parquet(Path(ref) / "splice_sites.parquet")
            write_fake_store(scores, genes, sites)
    return ref, scores


def baseline_env(rev: str, work: Path) -> dict:
    """An environment whose ``fastbuild`` is the code at ``rev`` (a git worktree)."""
    tree = work / f"baseline_{rev}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=REPO, check=True,
                       capture_output=True)
    path = work / f"baseline_path_{rev}"
    path.mkdir(exist_ok=True)
    for name, target in (("fastbuild", tree / "fastbuild"), ("fastbuild_kernels", tree / "kernels")):
        if not (path / name).exists():
            (path / name).symlink_to(target)
    return {**os.environ, "PYTHONPATH": str(path)}


def cmd(ref: str, scores: str, out: Path, extra=()) -> list[str]:
    return [sys.executable, "-m", "fastbuild", "build", "--reference", ref, "--scores", scores, "--output-dir",
            str(out), "--subset-policy", "all", "--no-progress", "--overwrite", *extra]


def read_rows(out: Path):
    import polars as pl

    return pl.read_parquet(str(out / "master" / "*.parquet")).sort(["gene_id", "transcript_id", "position"],
                                                                    nulls_last=True)


def run_variants(args, ref, scores, work, scheduler) -> dict:
    env_base = baseline_env(args.baseline_rev, work)
    variants = {
        "baseline --jobs 2": (["--jobs", "2"], env_base),
        "local --jobs 2": (["--jobs", "2"], None),
        "dask LocalCluster, 2 workers": (["--dask-scheduler", scheduler], None),
    }
    for extra, env in variants.values():  # warm-up: numba caches, worker imports
        measure(cmd(ref, scores, work / "warm", [*extra, "--n-genes", "20", "--subset-policy", "random"]), env=env)
    walls: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for i, (name, (extra, env)) in enumerate(variants.items()):
            m = measure(cmd(ref, scores, work / f"v{i}", extra), env=env)
            walls[name].append(m["wall_s"])
            print(f"round {r + 1}: {name}: {m['wall_s']:.1f} s, peak RSS {m['peak_rss_mib']:.0f} MiB", flush=True)
    rows = [read_rows(work / f"v{i}") for i in range(len(variants))]
    return {"walls": walls, "rows": rows[0].height, "identical": all(x.equals(rows[0]) for x in rows[1:])}


def split_probes(ref, scores, work) -> list[str]:
    """Fewer units than workers, and one huge gene: where the time goes."""
    import polars as pl

    lines = []
    one_unit = ["--batch-size", "100000"]
    for jobs in ("1", "2"):
        m = measure(cmd(ref, scores, work / f"one_unit_{jobs}", [*one_unit, "--jobs", jobs]))
        lines.append(f"all genes as one unit, --jobs {jobs}: {m['wall_s']:.1f} s")
    genes = pl.read_parquet(Path(ref) / "genes.parquet")
    sizes = genes.with_columns((pl.col("end") - pl.col("start") + 1).alias("n"))
    big = sizes.sort("n", descending=True).row(0, named=True)
    ids = work / "big.txt"
    ids.write_text(big["gene_id"] + "\n")
    for jobs in ("1", "2"):
        m = measure(cmd(ref, scores, work / f"big_{jobs}", ["--subset-policy", "custom", "--gene-ids-file", str(ids),
                                                            "--jobs", jobs]))
        lines.append(f"largest gene {big['gene_id']} ({big['n']:,} nt) alone, --jobs {jobs}: {m['wall_s']:.1f} s, "
                     f"peak RSS {m['peak_rss_mib']:.0f} MiB")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", help="reference tables (default: Arabidopsis chr1 from ../shared, prepared)")
    p.add_argument("--scores", help="score store (default: a synthetic store for every gene)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the three variants")
    p.add_argument("--baseline-rev", default=BASELINE_REV, help="git revision of the baseline code")
    p.add_argument("--workdir", help="keep inputs and outputs here (default: a temporary folder)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    import distributed

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        ref, scores = prepare_inputs(args, work)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=40) as cluster:
            t0 = time.perf_counter()
            res = run_variants(args, ref, scores, work, cluster.scheduler_address)
            res["probes"] = split_probes(ref, scores, work)
            res["seconds"] = time.perf_counter() - t0
        if not args.workdir:
            subprocess.run(["git", "worktree", "prune"], cwd=REPO, check=False)
    best = {k: min(v) for k, v in res["walls"].items()}
    base = best["baseline --jobs 2"]
    print(f"\nCPU: {cpu_name()}, {os.cpu_count()} CPUs; {res['rows']:,} rows, identical in all variants: "
          f"{res['identical']}")
    print("| variant | best wall s | vs baseline | vs local |\n|---|---|---|---|")
    for name, wall in best.items():
        print(f"| {name} | {wall:.1f} | {wall / base:.2f} | {wall / best['local --jobs 2']:.2f} |")
    for line in res["probes"]:
        print(f"- {line}")
    if args.json:
        Path(args.json).write_text(json.dumps({**res, "best": best, "cpu": cpu_name()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
