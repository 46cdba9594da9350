#!/usr/bin/env python3
"""Builder stages side by side: µs per kept row of read / label / featurise / write, old code vs this one.

Builds the same genes (k = 3, ``--jobs 1``: all work in one child process) with two code
trees -- BEFORE (e.g. ``git worktree add /tmp/before <old commit>``) and this checkout -- in
alternating child processes, round after round. Both trees are timed by the same
instrumentation (``time.perf_counter`` around ``gene_inputs`` -- reading a gene's scores and
sequence --, ``rows._label_and_sample``, ``rows._featurise`` and ``ColumnBuffer.add/flush`` --
Arrow conversion and Parquet writing); this checkout's own ``build_info.json`` stage timings
are reported next to them. numba's one-time start-up in each process (about a second, paid by
whichever kernel runs first) is paid before the build, so no stage carries it (``numba s``).

The score store: the real scores of ``--scores`` (e.g. ``fastbuild predict --n-genes 1000
--subset-policy random``) are copied into a store of every annotated gene of their
chromosome(s), the other genes padded with synthetic scores, chunked as ``fastbuild predict``
chunks (100 genes or 5 Mb), so that a batch of the real genes reads a small part of every chunk,
as from a whole-chromosome store. Each tree writes its own copy with its own
``ScoreStore.write_chunk``, so each reads the layout it writes (this checkout also reads the old
tree's copy: ``after, old store``).

Example::

    git worktree add /tmp/before <old commit>
    fastbuild predict --fasta FA --gtf GTF --model MODEL --scores /tmp/s1k --n-genes 1000 --subset-policy random
    python benchmarks/bench_build_stages.py --before /tmp/before --fasta FA --gtf GTF --scores /tmp/s1k
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import cpu_name  # noqa: E402

STAGES = ("read", "label", "featurise", "write")

STORE_SCRIPT = r"""
import json, sys, zlib
import numpy as np, polars as pl
from fastbuild.basemodel.store import ScoreStore
a = json.loads(sys.argv[1])
real = ScoreStore(a["scores"])
have = set(real.genes())
genes = pl.read_parquet(a["genes"])
store = ScoreStore.create(a["out"], real.model_identity, precision=real.precision)
done = []
for (_, ), part in genes.group_by(["chunk"], maintain_order=True):
    ids = part["gene_id"].to_list()
    loaded = real.load([g for g in ids if g in have], as_dict=True)
    frames = []
    for g in part.iter_rows(named=True):
        pos = np.arange(g["start"], g["end"] + 1, dtype=np.int64)
        if g["gene_id"] in loaded:
            df = loaded[g["gene_id"]]
            sc = np.stack([df[c].to_numpy() for c in ("neither", "acceptor", "donor")], axis=1)
        else:  # padding: small, seeded synthetic probabilities (the same in both stores)
            rng = np.random.default_rng(zlib.crc32(g["gene_id"].encode()))
            da = (rng.random((pos.size, 2), dtype=np.float32) ** 8) * np.float32(0.01)
            sc = np.concatenate([1 - da.sum(axis=1, keepdims=True), da[:, ::-1]], axis=1)
        frames.append((g["gene_id"], pos, sc))
    rel = store.chunk_name(part["chrom"][0], ids, int(part["start"].min()), int(part["end"].max()))
    store.write_chunk(rel, frames)
    done.append((rel, part.drop("chunk")))
store.record_chunks(done)
"""

BUILD_SCRIPT = r"""
import json, sys
from time import perf_counter
import fastbuild.builder.batch as batch
import fastbuild.builder.columns as columns
import fastbuild.builder.rows as rows
T = dict.fromkeys(("read", "label", "featurise", "write"), 0.0)

def timed(fn, stage):
    def wrapper(*a, **k):
        t0 = perf_counter()
        try:
            return fn(*a, **k)
        finally:
            T[stage] += perf_counter() - t0
    return wrapper

inputs = batch.gene_inputs

def gene_inputs(*a, **k):
    it = inputs(*a, **k)
    while True:
        t0 = perf_counter()
        g = next(it, None)
        T["read"] += perf_counter() - t0
        if g is None:
            return
        yield g

depth = [0]

def outer(fn):  # ColumnBuffer.add calls flush: time the outermost call only
    def wrapper(*a, **k):
        depth[0] += 1
        t0 = perf_counter()
        try:
            return fn(*a, **k)
        finally:
            depth[0] -= 1
            if not depth[0]:
                T["write"] += perf_counter() - t0
    return wrapper

batch.gene_inputs = gene_inputs
rows._label_and_sample = timed(rows._label_and_sample, "label")
rows._featurise = timed(rows._featurise, "featurise")
columns.ColumnBuffer.add = outer(columns.ColumnBuffer.add)
columns.ColumnBuffer.flush = outer(columns.ColumnBuffer.flush)
import fastbuild_kernels
t0 = perf_counter()
fastbuild_kernels.encode(b"ACGT")  # numba's one-time start-up, else charged to the first stage (read)
numba_s = perf_counter() - t0
from fastbuild.cli import main
a = json.loads(sys.argv[1])
t0 = perf_counter()
rc = main(a["argv"])
wall = perf_counter() - t0
info = json.loads(open(a["out"] + "/build_info.json").read())
print(json.dumps({"rc": rc, "wall_s": wall, "numba_start_s": numba_s, "rows": info["rows"], "genes": info["genes"],
                  "batches_s": info["timings_s"]["batches"], "stage_s": T,
                  "build_info_stages": info.get("stage_timings")}))
"""


def tree_env(tree: Path, shim_root: Path) -> dict:
    """Environment running code tree ``tree``: its ``fastbuild`` and its ``kernels`` as ``fastbuild_kernels``."""
    shim = shim_root / tree.name
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "fastbuild_kernels"
    if not link.exists():
        link.symlink_to(tree / "kernels")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), str(shim)]))


def run_child(script: str, payload: dict, env: dict) -> str:
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(payload)], env=env, capture_output=True,
                          text=True, cwd=tempfile.gettempdir())
    if proc.returncode:
        raise RuntimeError(f"child failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def chromosome_genes(args, work: Path) -> tuple[Path, list[str]]:
    """All annotated genes of the real store's chromosome(s), chunked like fastbuild predict; the real genes."""
    import polars as pl

    from fastbuild.basemodel.scoring import plan_chunks
    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.genome import Genome
    from fastbuild.reference import InputSpec, load_reference, resolve_inputs

    spec = InputSpec(fasta=args.fasta, annotation=args.gtf)
    with Genome(args.fasta) as g:
        ann = load_reference(resolve_inputs(spec), spec, g)
    real = ScoreStore(args.scores).index()
    genes = ann.genes.filter(pl.col("chrom").is_in(real["chrom"].unique().implode()))
    genes = genes.select("gene_id", "chrom", "strand", "start", "end").sort("chrom", "start")
    chunks = plan_chunks(genes, 5_000_000, 100)
    table = pl.concat([c.with_columns(pl.lit(i).alias("chunk")) for i, c in enumerate(chunks)])
    table.write_parquet(work / "genes.parquet")
    ids = real.sort("chrom", "start")["gene_id"].to_list()
    return work / "genes.parquet", ids[:args.genes] if args.genes else ids


def build(env, store: Path, ids_file: Path, out: Path, args) -> dict:
    argv = ["build", "--fasta", args.fasta, "--gtf", args.gtf, "--scores", str(store), "--output-dir", str(out),
            "--no-progress", "--jobs", "1", "--kmer-sizes", "3", "--subset-policy", "custom",
            "--gene-ids-file", str(ids_file)]
    res = json.loads(run_child(BUILD_SCRIPT, {"argv": argv, "out": str(out)}, env).strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    return res


def _us(seconds: float, rows: int) -> float:
    return seconds * 1e6 / rows


def report(results: dict, rows: int, genes: int) -> str:
    """A markdown table: median µs per kept row of each stage, per code tree and store layout."""
    head = ("| code | store | " + " | ".join(STAGES) + " | stages | stages (fastest round) | batches (wall) "
            "| build s | numba s |\n|---|---|" + "---|" * (len(STAGES) + 5))
    lines = [head]
    rounds = 0
    for name, runs in results.items():
        rounds = len(runs)
        med = {s: statistics.median(_us(r["stage_s"][s], r["rows"]) for r in runs) for s in STAGES}
        batches = statistics.median(_us(r["batches_s"], r["rows"]) for r in runs)
        wall = statistics.median(r["wall_s"] for r in runs)
        fastest = min(_us(sum(r["stage_s"].values()), r["rows"]) for r in runs)
        lines.append(f"| {name} | " + " | ".join(f"{med[s]:.2f}" for s in STAGES)
                     + f" | {sum(med.values()):.2f} | {fastest:.2f} | {batches:.2f} | {wall:.1f} | "
                     + f"{statistics.median(r['numba_start_s'] for r in runs):.2f} |")
        own = [r["build_info_stages"] for r in runs if r.get("build_info_stages")]
        if own:
            us = {s: statistics.median(o["us_per_row"][s] for o in own) for s in STAGES}
            code, store = name.split(" | ")
            lines.append(f"| {code} (its build_info.json) | {store} | " + " | ".join(f"{us[s]:.2f}" for s in STAGES)
                         + f" | {sum(us.values()):.2f} | | | | |")
    return (f"k=3 build of {genes} genes ({rows:,} kept rows), µs per kept row (median of {rounds} rounds), "
            f"CPU: {cpu_name()}\n\n" + "\n".join(lines))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, type=Path, help="the old code tree (a git worktree)")
    p.add_argument("--fasta", required=True)
    p.add_argument("--gtf", required=True)
    p.add_argument("--scores", required=True, help="score store with the real scores of the genes to build")
    p.add_argument("--genes", type=int, default=0, help="build only the first N genes of --scores (0: all)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="also write every run here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fastbuild-stages-") as tmp:
        work = Path(tmp)
        genes_file, ids = chromosome_genes(args, work)
        (work / "ids.txt").write_text("\n".join(ids) + "\n")
        before, after = tree_env(args.before.resolve(), work / "shims"), tree_env(REPO, work / "shims")
        for env, name in ((before, "old"), (after, "new")):
            run_child(STORE_SCRIPT, {"scores": args.scores, "genes": str(genes_file), "out": str(work / name)}, env)
        variants = {"before | old layout": (before, work / "old"), "after | new layout": (after, work / "new"),
                    "after | old layout": (after, work / "old")}
        for env, store in variants.values():  # warm-up: numba caches, page cache
            build(env, store, work / "ids.txt", work / "out", args)
        results = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (env, store) in variants.items():
                results[name].append(build(env, store, work / "ids.txt", work / "out", args))
    rows = results["after | new layout"][0]["rows"]
    assert all(r["rows"] == rows for runs in results.values() for r in runs), "the builds differ in rows"
    print(report(results, rows, results["after | new layout"][0]["genes"]))
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
