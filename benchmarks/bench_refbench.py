#!/usr/bin/env python3
"""MetaSpliceAI's real incremental builder and fastbuild side by side, on the same genes and scores.

The reference is run from a local copy of its source (``--reference-src``, e.g. an export of
``pleiadian53/meta-spliceai`` into /tmp; its code is never copied into this repository) with its
own Python (``--reference-python``: a separate virtual environment, see below).  One run of this
script does everything, in child processes:

1. **Inputs** (once, not timed).  The genes are those of the score store ``--scores`` (e.g.
   ``fastbuild predict --n-genes 1000 --subset-policy random``).  Adapters write what the reference
   wants from fastbuild's data:

   * its data root (``META_SPLICEAI_ROOT``): ``configs/genomic_resources.yaml`` (copied from its
     source) and ``data/ensembl/GRCh38/`` with the GTF (``SS_GTF_PATH``), ``gene_features.tsv`` and
     ``splice_sites.tsv`` (from ``fastbuild prepare --tsv``, exon-side site positions);
   * its score artifacts: ``analysis_sequences_{chrom}_chunk_{a}_{b}.tsv`` under
     ``spliceai_eval/meta_models``, written by the reference's **own workflow code** -- per
     mini-batch of 50 genes ``enhanced_process_predictions_with_all_scores`` (labels, TN sampling
     1.2 x the non-TN rows per gene, derived features) and ``extract_analysis_sequences`` (the
     500-nt windows), saved per 500-gene chunk by ``MetaModelDataHandler.save_analysis_sequences``
     -- from fastbuild's scores in the reference's prediction format (per gene, probabilities in
     transcript order with absolute positions).  That replaces only its SpliceAI inference.  No
     delta correction (the annotation and the model both use exon-side sites); Python's ``random``
     is seeded so that the artifacts are reproducible.

2. **Builds** (timed), alternating in every round: the reference's
   ``incremental_build_training_dataset`` with the arguments its CLI passes for
   ``--gene-ids-file IDS --subset-policy custom --kmer-sizes K --overwrite`` (defaults otherwise:
   batch of 1,000 genes, ``--batch-rows`` 500,000, ``hard_prob 0.15, window 75, easy_ratio 0.5``,
   every enricher, manifest), then ``fastbuild build --jobs 1 --kmer-sizes K`` on the same genes
   and score store (``--kmer-layout sparse`` for k >= 5).  Each build is a fresh process started
   by a small wrapper that reports its wall time (interpreter start-up and imports included) and
   the peak RSS of its largest process (``resource.getrusage(RUSAGE_CHILDREN)``).

Two shims, both outside the reference's code path being timed: imports of ``keras``,
``tensorflow``, ``torch``, ``torchvision`` and ``spliceai`` resolve to empty stub modules (only its
SpliceAI inference uses them, and that is not run: the artifacts exist); and the builder's
``_normalize_gene_identifiers`` takes gene ids as given (it does so for ``ENSG`` ids and maps any
other id through gene *names*, which drops every Arabidopsis ``AT1G...`` id).

The reference environment (pins from its ``requirements.txt`` / ``pyproject.toml`` where they
matter)::

    python3 -m venv /tmp/msai_venv
    /tmp/msai_venv/bin/pip install "numpy<2" "pandas==2.2.*" "polars==1.17.1" pyarrow tqdm rich psutil \\
        pyyaml tabulate pybedtools Bio shap gffutils pyBigWig seaborn
    git --git-dir MIRROR archive HEAD meta_spliceai configs | tar -x -C /tmp/msai

Example::

    python benchmarks/bench_refbench.py --reference-src /tmp/msai --reference-python /tmp/msai_venv/bin/python \\
        --fasta FA --gtf GTF --reference REF --scores /tmp/s1k --kmer-sizes 3 6 --rounds 2 --work /tmp/refbench/w
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import cpu_name  # noqa: E402

STAGES = ("read", "label", "featurise", "write", "other")
HEAVY = ("keras", "tensorflow", "torch", "torchvision", "spliceai")

PRELUDE = r"""
import importlib.abc, importlib.machinery, json, os, sys, types
A = json.loads(sys.argv[1])

class _Stub(types.ModuleType):
    __path__ = []
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None, "__call__": lambda self, *a, **k: None})

class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in A["stubs"]:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec):
        return _Stub(spec.name)
    def exec_module(self, module):
        pass

sys.meta_path.insert(0, _StubFinder())
sys.path.insert(0, A["src"])
"""

ARTIFACT_SCRIPT = PRELUDE + r"""
import random
import numpy as np, polars as pl
from meta_spliceai.splice_engine.meta_models.core.enhanced_workflow import enhanced_process_predictions_with_all_scores
from meta_spliceai.splice_engine.meta_models.workflows.sequence_data_utils import extract_analysis_sequences
from meta_spliceai.splice_engine.meta_models.io.handlers import MetaModelDataHandler
from meta_spliceai.splice_engine.utils_fs import read_splice_sites
from meta_spliceai.splice_engine.evaluate_models import evaluate_splice_site_predictions
from meta_spliceai.splice_engine.extract_genomic_features import FeatureAnalyzer
from meta_spliceai.splice_engine.model_evaluator import ModelEvaluationFileHandler
random.seed(A["seed"]); np.random.seed(A["seed"])
genes = pl.read_parquet(A["genes"]).sort("chrom", "start")
scores = pl.read_parquet(A["scores"])
by_gene = {g: df for (g,), df in scores.group_by(["gene_id"])}
ss = read_splice_sites(A["splice_sites"], separator="\t", verbose=0)
dh = MetaModelDataHandler()

def predictions(part):
    out = {}
    for g in part.iter_rows(named=True):
        df = by_gene[g["gene_id"]].sort("position", descending=g["strand"] == "-")
        out[g["gene_id"]] = {"seqname": g["chrom"], "gene_name": g["gene_name"], "strand": g["strand"],
                             "gene_start": g["start"], "gene_end": g["end"],
                             "donor_prob": df["donor"].to_list(), "acceptor_prob": df["acceptor"].to_list(),
                             "neither_prob": df["neither"].to_list(), "positions": df["position"].to_list()}
    return out

files, perf = [], []
for (chrom,), cg in genes.group_by(["chrom"], maintain_order=True):
    for a in range(0, cg.height, 500):
        chunk, parts = cg.slice(a, 500), []
        for m in range(0, chunk.height, 50):
            mini = chunk.slice(m, 50)
            pred = predictions(mini)
            perf.append(evaluate_splice_site_predictions(ss, pred, threshold=0.5, consensus_window=2,
                                                         predicted_delta_correction=False, verbose=0)
                        .with_columns(pl.lit(chrom).alias("chrom")))
            _, pos = enhanced_process_predictions_with_all_scores(
                predictions=pred, ss_annotations_df=ss, threshold=0.5, consensus_window=2,
                error_window=500, analyze_position_offsets=True, collect_tn=True, no_tn_sampling=False,
                predicted_delta_correction=False, splice_site_adjustments=None, add_derived_features=True, verbose=0)
            if pos.height:
                if "chrom" not in pos.columns:
                    pos = pos.with_columns(pl.lit(chrom).alias("chrom"))
                parts.append(extract_analysis_sequences(
                    mini, pos, include_empty_entries=True, essential_columns_only=False, drop_transcript_id=False,
                    window_size=250, position_id_mode="genomic", preserve_transcript_list=True, verbose=0))
        if parts:
            seq = pl.concat(parts, how="diagonal_relaxed")
            seq = seq.unique(subset=["gene_id", "position", "strand", "splice_type"])
            files.append(dh.save_analysis_sequences(seq, chr=chrom, chunk_start=a + 1, chunk_end=a + chunk.height,
                                                    aggregated=False))
mefd = ModelEvaluationFileHandler(FeatureAnalyzer.eval_dir, separator="\t")
files.append(mefd.save_performance_df(pl.concat(perf, how="diagonal_relaxed"), aggregated=True))
print(json.dumps({"files": [str(f) for f in files], "meta_dir": dh.meta_dir}))
"""

REF_BUILD_SCRIPT = PRELUDE + r"""
from time import perf_counter
t0 = perf_counter()
import meta_spliceai.splice_engine.meta_models.builder.incremental_builder as ib
ib._normalize_gene_identifiers = lambda ids, verbose=1: (set(ids), {g: g for g in ids})
import_s = perf_counter() - t0
os.chdir(A["out"])
ids = [ln.strip() for ln in open(A["ids"]) if ln.strip()]
t0 = perf_counter()
master = ib.incremental_build_training_dataset(
    n_genes=20_000, subset_policy="custom", batch_size=1_000, kmer_sizes=[A["k"]], output_dir=A["out"],
    overwrite=True, downsample_kwargs=dict(hard_prob_thresh=0.15, window_nt=75, easy_neg_ratio=0.5),
    gene_types=None, additional_gene_ids=ids, run_workflow=False, workflow_kwargs={}, batch_rows=500_000,
    verbose=1, patch_dataset=False, generate_manifest=True, position_id_mode="genomic")
build_s = perf_counter() - t0
import pyarrow.parquet as pq
files = sorted(p for p in os.listdir(master) if p.endswith(".parquet"))
rows = sum(pq.ParquetFile(os.path.join(master, p)).metadata.num_rows for p in files)
cols = pq.ParquetFile(os.path.join(master, files[0])).metadata.num_columns if files else 0
genes = set()
for p in files:
    genes |= set(pq.read_table(os.path.join(master, p), columns=["gene_id"])["gene_id"].to_pylist())
print("@@RESULT " + json.dumps({"rows": rows, "columns": cols, "genes": len(genes), "import_s": import_s,
                                "build_s": build_s}))
"""

CACHE_SCRIPT = PRELUDE + r"""
from pathlib import Path
from meta_spliceai.splice_engine.extract_genomic_features import compute_total_lengths
from meta_spliceai.system.genomic_resources import Registry
dest = Path(Registry().cfg.data_root) / "spliceai_analysis" / "total_intron_exon_lengths.tsv"
dest.parent.mkdir(parents=True, exist_ok=True)
compute_total_lengths(os.environ["SS_GTF_PATH"]).to_csv(dest, sep="\t", index=False)
print(json.dumps({"file": str(dest)}))
"""

WRAP_SCRIPT = r"""
import json, resource, subprocess, sys, time
a = json.loads(sys.argv[1])
t0 = time.perf_counter()
with open(a["log"], "w") as log:
    rc = subprocess.run(a["cmd"], env=a["env"], stdout=log, stderr=subprocess.STDOUT, cwd=a["cwd"]).returncode
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"rc": rc, "wall_s": wall, "peak_rss_mb": rss}))
"""


def measured(cmd: list[str], env: dict, log: Path, cwd: Path) -> dict:
    """Run ``cmd`` in a fresh wrapper process; its wall time and the peak RSS of its largest process.

    Parameters
    ----------
    cmd : list of str
        The command.
    env : dict
        Its environment.
    log : Path
        Where its stdout and stderr go.
    cwd : Path
        Its working directory.

    Returns
    -------
    dict
        ``rc``, ``wall_s``, ``peak_rss_mb``.
    """
    payload = json.dumps({"cmd": cmd, "env": env, "log": str(log), "cwd": str(cwd)})
    out = subprocess.run([sys.executable, "-c", WRAP_SCRIPT, payload], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"]:
        raise RuntimeError(f"{cmd[0]} failed (exit {res['rc']}); its log {log}:\n{log.read_text()[-3000:]}")
    return res


def fastbuild_env() -> dict:
    """Environment of fastbuild's runs: this one, but writing bytecode as the reference's runs do
    (:func:`reference_env` drops every ``PYTHON*`` variable, ``PYTHONDONTWRITEBYTECODE`` with them;
    left set, an editable fastbuild compiled its ~80 modules from source on every run, ~0.1 s)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def reference_env(args, root: Path) -> dict:
    """Environment of the reference's processes: its data root, the GTF, no stray user site packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(META_SPLICEAI_ROOT=str(root), SS_GTF_PATH=str(root / "data" / "ensembl" / "GRCh38" / "annotation.gtf"),
               SS_BUILD="GRCh38", PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    return env


def reference_root(args, root: Path) -> None:
    """The reference's data root: its configuration and fastbuild's tables in its formats.

    Parameters
    ----------
    args : argparse.Namespace
        ``reference_src`` (its source, with ``configs/genomic_resources.yaml``), ``gtf`` and
        ``reference`` (a ``fastbuild prepare --tsv`` folder).
    root : Path
        Folder to fill (``META_SPLICEAI_ROOT``).
    """
    stash = root / "data" / "ensembl" / "GRCh38"
    for d in (root / "configs", stash / "spliceai_analysis"):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(args.reference_src) / "configs" / "genomic_resources.yaml", root / "configs")
    gtf = stash / "annotation.gtf"
    if not gtf.exists():
        opener = gzip.open if str(args.gtf).endswith(".gz") else open
        with opener(args.gtf, "rb") as src, open(gtf, "wb") as dst:
            shutil.copyfileobj(src, dst)
    tables = Path(args.reference)
    for name in ("gene_features.tsv", "splice_sites.tsv"):
        if not (tables / name).exists():
            raise SystemExit(f"{tables / name} missing: run fastbuild prepare with --tsv")
        for dest in (stash / name, stash / "spliceai_analysis" / name, root / "data" / "ensembl" / name):
            shutil.copy(tables / name, dest)
    (root / "data" / "ensembl" / "spliceai_analysis").mkdir(parents=True, exist_ok=True)
    shutil.copy(tables / "gene_features.tsv", root / "data" / "ensembl" / "spliceai_analysis" / "gene_features.tsv")


def export_inputs(args, work: Path) -> list[str]:
    """Write the genes of the score store (with strand-oriented sequences) and their scores as Parquet.

    Parameters
    ----------
    args : argparse.Namespace
        ``scores``, ``fasta``, ``reference``.
    work : Path
        Output folder: ``genes.parquet``, ``scores.parquet``, ``ids.txt``.

    Returns
    -------
    list of str
        The gene ids, in store order.
    """
    import polars as pl

    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.genome import Genome

    store = ScoreStore(args.scores)
    idx = store.index().sort("chrom", "start")
    if args.n_genes:
        idx = idx.head(args.n_genes)
    names = pl.read_parquet(Path(args.reference) / "genes.parquet").select("gene_id", "gene_name")
    genes = idx.select("gene_id", "chrom", "strand", "start", "end").join(names, on="gene_id", how="left")
    with Genome(args.fasta) as genome:
        seqs = ["".join("ACGTN"[c] for c in genome.fetch(g["chrom"], g["start"], g["end"], g["strand"]).tolist())
                for g in genes.iter_rows(named=True)]
    genes = genes.with_columns(pl.Series("sequence", seqs), pl.col("chrom").alias("seqname"),
                               pl.col("gene_name").fill_null(pl.col("gene_id")))
    genes.write_parquet(work / "genes.parquet")
    store.load(genes["gene_id"].to_list()).write_parquet(work / "scores.parquet")
    ids = genes["gene_id"].to_list()
    (work / "ids.txt").write_text("\n".join(ids) + "\n")
    return ids


def write_artifacts(args, work: Path, root: Path) -> dict:
    """The reference's score artifacts from fastbuild's scores, by the reference's own workflow code."""
    meta = root / "data" / "ensembl" / "spliceai_eval" / "meta_models"
    shutil.rmtree(meta, ignore_errors=True)
    payload = {"stubs": HEAVY, "src": str(Path(args.reference_src).resolve()), "seed": args.seed,
               "genes": str(work / "genes.parquet"), "scores": str(work / "scores.parquet"),
               "splice_sites": str(Path(args.reference) / "splice_sites.tsv")}
    log = work / "artifacts.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([args.reference_python, "-c", ARTIFACT_SCRIPT, json.dumps(payload)],
                              env=reference_env(args, root), stdout=subprocess.PIPE, stderr=fh, text=True, cwd=work)
    if proc.returncode:
        raise RuntimeError(f"writing the reference's artifacts failed; see {log}:\n{log.read_text()[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["seconds"] = time.perf_counter() - t0
    return res


def reference_caches(args, work: Path, root: Path) -> None:
    """The reference's per-genome caches that its builder reads but never writes.

    ``total_intron_exon_lengths.tsv`` (its ``length_features`` enricher computes it from the GTF
    on every batch when absent: minutes) is written once by its own ``compute_total_lengths``.
    """
    if (root / "data" / "spliceai_analysis" / "total_intron_exon_lengths.tsv").exists():
        return
    payload = {"stubs": HEAVY, "src": str(Path(args.reference_src).resolve())}
    proc = subprocess.run([args.reference_python, "-c", CACHE_SCRIPT, json.dumps(payload)],
                          env=reference_env(args, root), capture_output=True, text=True, cwd=work)
    if proc.returncode:
        raise RuntimeError(f"the reference's length cache failed:\n{proc.stderr[-3000:]}")


def run_reference(args, work: Path, root: Path, k: int, tag: str) -> dict:
    """One timed build by the reference's incremental builder (fresh process)."""
    out = work / f"ref_k{k}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    payload = {"stubs": HEAVY, "src": str(Path(args.reference_src).resolve()), "out": str(out),
               "ids": str(work / "ids.txt"), "k": k}
    log = work / f"ref_k{k}_{tag}.log"
    res = measured([args.reference_python, "-c", REF_BUILD_SCRIPT, json.dumps(payload)],
                   reference_env(args, root), log, work)
    line = [ln for ln in log.read_text().splitlines() if ln.startswith("@@RESULT ")][-1]
    res.update(json.loads(line[len("@@RESULT "):]))
    return res


TREE_SCRIPT = r"""
import json, sys
tree = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__name__", "")]  # pip -e finders
sys.path[:0] = [tree, tree + "/.shim"]
import fastbuild
assert fastbuild.__file__.startswith(tree), fastbuild.__file__
from fastbuild.cli import main
sys.exit(main(json.loads(sys.argv[2])))
"""


def tree_command(tree: str) -> list[str]:
    """The command prefix running ``fastbuild`` from another code tree (its ``kernels`` as ``fastbuild_kernels``).

    An editable install's import finder takes precedence over ``PYTHONPATH``, so the child drops it
    and puts the tree first on ``sys.path``.
    """
    shim = Path(tree) / ".shim"
    shim.mkdir(exist_ok=True)
    if not (shim / "fastbuild_kernels").exists():
        (shim / "fastbuild_kernels").symlink_to(Path(tree) / "kernels")
    return [sys.executable, "-c", TREE_SCRIPT, tree]


def run_fastbuild(args, work: Path, k: int, tag: str, tree: str | None = None) -> dict:
    """One timed ``fastbuild build --jobs 1`` of the same genes from the same score store (fresh process).

    ``tree``: run the code of that tree (e.g. ``git archive`` of an older commit) instead of this checkout.
    """
    out = work / f"fb_k{k}"
    shutil.rmtree(out, ignore_errors=True)
    argv = ["build", "--reference", str(args.reference), "--fasta", str(args.fasta), "--scores", str(args.scores),
            "--output-dir", str(out), "--no-progress", "--jobs", "1", "--kmer-sizes", str(k),
            "--subset-policy", "custom", "--gene-ids-file", str(work / "ids.txt")]
    # the reference keeps every gene type; fastbuild's training default leaves pseudogenes out
    if tree is None or "pseudogenes" in (Path(tree) / "fastbuild" / "builder" / "config.py").read_text():
        argv += ["--pseudogenes", "keep"]
    if k >= 5:
        argv += ["--kmer-layout", "sparse"]
    fastbuild = [*tree_command(tree), json.dumps(argv)] if tree else [str(Path(sys.executable).with_name("fastbuild"))]
    cmd = fastbuild if tree else [*fastbuild, *argv]
    res = measured(cmd, fastbuild_env(), work / f"fb{'_before' if tree else ''}_k{k}_{tag}.log", work)
    info = json.loads((out / "build_info.json").read_text())
    size = sum(p.stat().st_size for p in out.glob("batch_*_trim.parquet"))
    res.update(rows=info["rows"], genes=info["genes"], stage_timings=info.get("stage_timings"), file_mb=size / 1e6,
               command="fastbuild " + " ".join(argv))
    return res


def _us(run: dict) -> float:
    """µs of wall time per kept row."""
    return run["wall_s"] * 1e6 / max(run["rows"], 1)


NAMES = {"reference": "MetaSpliceAI incremental_builder", "fastbuild": "fastbuild --jobs 1",
         "before": "fastbuild --jobs 1, --before tree"}


def table(results: dict) -> str:
    """Markdown table: per k and builder, wall s, rows, µs per row, peak RSS, ratios to the reference."""
    lines = ["| k | builder | wall s per round | best wall s | rows | genes with rows | µs per row (best) "
             "| peak RSS MiB (max) | per-row ratio | wall ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for k, runs in results.items():
        ref = runs["reference"]
        for who, rr in runs.items():
            if not rr:
                continue
            best = min(rr, key=lambda r: r["wall_s"])
            ratio = "" if who == "reference" else f"**{_us(min(ref, key=_us)) / _us(best):,.0f}x**"
            wall = "" if who == "reference" else f"{min(r['wall_s'] for r in ref) / best['wall_s']:.2f}x"
            walls = ", ".join(f"{r['wall_s']:.2f}" for r in rr)
            lines.append(f"| {k} | {NAMES[who]} | {walls} | {best['wall_s']:.2f} | {best['rows']:,} "
                         f"| {best['genes']:,} | {_us(best):,.1f} | {max(r['peak_rss_mb'] for r in rr):,.0f} "
                         f"| {ratio} | {wall} |")
    return "\n".join(lines)


def stage_table(results: dict) -> str:
    """fastbuild's own stage timings (build_info.json), µs per kept row, median over the rounds."""
    lines = ["| k | code | " + " | ".join(STAGES) + " | total | batch files MB |",
             "|---|---|" + "---|" * (len(STAGES) + 2)]
    for k, runs in results.items():
        for who in ("before", "fastbuild"):
            own = [r for r in runs.get(who, []) if r.get("stage_timings")]
            if not own:
                continue
            us = {s: statistics.median(r["stage_timings"]["us_per_row"].get(s, 0.0) for r in own)
                  for s in (*STAGES, "total")}
            lines.append(f"| {k} | {'--before tree' if who == 'before' else 'this checkout'} | "
                         + " | ".join(f"{us[s]:.2f}" for s in (*STAGES, "total")) + f" | {own[0]['file_mb']:.0f} |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference-src", required=True, help="MetaSpliceAI's source (meta_spliceai/, configs/)")
    p.add_argument("--reference-python", default="/tmp/msai_venv/bin/python", help="Python of the reference's venv")
    p.add_argument("--fasta", required=True)
    p.add_argument("--gtf", required=True)
    p.add_argument("--reference", required=True, help="fastbuild prepare --tsv output folder")
    p.add_argument("--scores", required=True, help="score store: its genes are the benchmark's genes")
    p.add_argument("--kmer-sizes", type=int, nargs="+", default=[3, 6])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--n-genes", type=int, default=0, help="only the first N genes of --scores (0: all)")
    p.add_argument("--seed", type=int, default=42, help="seed of the reference's TN sampling in its artifacts")
    p.add_argument("--work", required=True, help="work folder (the reference's data root goes in it)")
    p.add_argument("--reuse-artifacts", action="store_true", help="keep artifacts already in --work")
    p.add_argument("--before", help="also time fastbuild from this code tree (e.g. git archive of the last commit)")
    p.add_argument("--json", help="also write every run here")
    args = p.parse_args(argv)
    for name in ("reference_src", "reference_python", "fasta", "gtf", "reference", "scores", "work", "before"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))  # children run in --work
    return args


def rounds(args, work: Path, root: Path) -> dict:
    """Warm-up builds, then ``--rounds`` rounds alternating reference, fastbuild (and the --before tree) per k."""
    runners = {"reference": lambda k, tag: run_reference(args, work, root, k, tag),
               "fastbuild": lambda k, tag: run_fastbuild(args, work, k, tag)}
    if args.before:
        runners["before"] = lambda k, tag: run_fastbuild(args, work, k, tag, args.before)
    for k in args.kmer_sizes:  # warm-up: the reference's one-off caches (GTF-derived tables), numba's caches
        for run in runners.values():
            run(k, "warmup")
    results = {k: {who: [] for who in runners} for k in args.kmer_sizes}
    for rnd in range(1, args.rounds + 1):
        for k in args.kmer_sizes:
            for who, run in runners.items():
                results[k][who].append(run(k, f"r{rnd}"))
            print(f"round {rnd} k={k}: " + ", ".join(f"{w} {r[-1]['wall_s']:.2f} s" for w, r in results[k].items())
                  + f"; load {os.getloadavg()}", flush=True)
    return results


def main(argv=None) -> int:
    """Inputs, the reference's artifacts and caches, warm-up, timed rounds, the tables."""
    args = parse_args(argv)
    work = Path(args.work).resolve()
    root = work / "msai_root"
    work.mkdir(parents=True, exist_ok=True)
    reference_root(args, root)
    ids = export_inputs(args, work)
    meta = root / "data" / "ensembl" / "spliceai_eval" / "meta_models"
    if args.reuse_artifacts and any(meta.glob("analysis_sequences_*.tsv")):
        art = {"files": sorted(map(str, meta.glob("analysis_sequences_*.tsv"))), "seconds": 0.0}
    else:
        art = write_artifacts(args, work, root)
    print(f"{len(ids)} genes; reference artifacts: {len(art['files'])} files in {art['seconds']:.1f} s", flush=True)
    reference_caches(args, work, root)
    results = rounds(args, work, root)
    print(f"\n{len(ids)} genes, CPU: {cpu_name()}, load average at the end {os.getloadavg()}\n")
    print(table(results) + "\n\nfastbuild stage timings (build_info.json), µs per kept row:\n\n" + stage_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "genes": len(ids), "artifacts": art,
                                               "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
