#!/usr/bin/env python3
"""bf16 vs float32 base-model scores: label agreement, top-k accuracy and speed, on real genes.

The study behind ``fastbuild predict --precision bf16`` (README, "Reduced precision"):

1. choose ``--n-genes`` genes (seeded) that the float32 store ``--scores`` holds (scored by an
   exact engine);
2. score them again at bf16 (``--backend openvino --precision bf16``) into a new store, timed;
3. time float32 and bf16 side by side on ``--speed-genes`` of them, interleaved (``--rounds``);
4. build evaluation-mode datasets (every position, no k-mers) from both stores and compare,
   position by position: the TP/FP/FN/TN labels (a 4 x 4 agreement table), score differences,
   and top-k accuracy for donors and acceptors (k = true sites of that type).

Example (whole-chr1 float32 store from ``fastbuild predict``)::

    python benchmarks/bench_precision.py --reference REF --scores SCORES \\
        --model ../shared/data/openspliceai_models/arabidopsis/10000nt --n-genes 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.machine import cpu_name  # noqa: E402

LABELS = ("TP", "FP", "FN", "TN")


def choose_genes(reference: str, scores: str, n: int, seed: int) -> pl.DataFrame:
    """``n`` seeded random genes of the reference that the store holds."""
    from fastbuild.basemodel.store import ScoreStore

    genes = pl.read_parquet(Path(reference) / "genes.parquet")
    have = set(ScoreStore(scores).genes())
    genes = genes.filter(pl.col("gene_id").is_in(list(have)))
    if genes.height < n:
        raise SystemExit(f"the store holds {genes.height} genes of the reference, fewer than --n-genes {n}")
    return genes.sample(n, seed=seed).sort("chrom", "start")


def score(reference: str, genes: pl.DataFrame, model, store: str, precision: str, backend: str) -> float:
    """Seconds to score ``genes`` into ``store`` (fresh) at ``precision`` (engine start-up included)."""
    from fastbuild.basemodel import score_genes
    from fastbuild.genome import Genome
    from fastbuild.reference import InputSpec, resolve_inputs

    inputs = resolve_inputs(InputSpec(reference=reference), None, None)
    with Genome(inputs.fasta) as genome:
        t0 = time.perf_counter()
        score_genes(genome, genes, model, store, progress=False, backend=backend, precision=precision)
        return time.perf_counter() - t0


def eval_rows(reference: str, scores: str, ids_file: Path) -> pl.DataFrame:
    """Every position of the listed genes, labelled against the annotation with ``scores``."""
    from fastbuild import build_dataset

    res = build_dataset(reference=reference, scores=scores, gene_ids_file=str(ids_file), subset_policy="custom",
                        eval_mode=True, kmer_sizes=(), output_dir=None, progress=False, n_genes=1)
    return pl.from_arrow(res.table).select("gene_id", "position", "splice_type", "pred_type", "donor_score",
                                           "acceptor_score")


def top_k(df: pl.DataFrame, site: str, column: str) -> float:
    """SpliceAI's top-k accuracy: share of true sites among the k best-scored positions."""
    truth = (df["splice_type"] == site).to_numpy()
    k = int(truth.sum())
    order = np.argsort(-df[column].to_numpy(), kind="stable")[:k]
    return float(truth[order].mean()) if k else float("nan")


def compare(f32: pl.DataFrame, bf16: pl.DataFrame) -> dict:
    """Agreement of labels, score differences and top-k of the two precisions."""
    j = f32.join(bf16, on=["gene_id", "position"], suffix="_bf16")
    table = {a: {b: 0 for b in LABELS} for a in LABELS}
    for a, b, n in j.group_by("pred_type", "pred_type_bf16").len().iter_rows():
        table[a][b] = int(n)
    diff = np.maximum(np.abs(j["donor_score"] - j["donor_score_bf16"]).to_numpy(),
                      np.abs(j["acceptor_score"] - j["acceptor_score_bf16"]).to_numpy())
    changed = int((j["pred_type"] != j["pred_type_bf16"]).sum())
    non_tn = int((j["pred_type"] != "TN").sum())
    return {
        "positions": j.height, "labels_changed": changed, "non_tn_float32": non_tn,
        "agreement_of_non_tn": 1 - sum(table[a][b] for a in LABELS[:3] for b in LABELS if b != a) / max(non_tn, 1),
        "agreement_table": table,
        "max_abs_diff": float(diff.max()), "share_diff_over_0.01": float((diff > 0.01).mean()),
        "share_diff_over_0.001": float((diff > 0.001).mean()),
        "top_k": {site: {"float32": top_k(f32, site, f"{site}_score"), "bf16": top_k(bf16, site, f"{site}_score")}
                  for site in ("donor", "acceptor")},
    }


def speed(reference, genes, model, work: Path, rounds: int) -> dict:
    """Seconds per precision, float32 and bf16 interleaved, fresh stores each round."""
    from fastbuild.basemodel import load_model

    model = load_model(model)
    times = {"float32": [], "bf16": []}
    for r in range(rounds):
        for precision in ("float32", "bf16") if r % 2 == 0 else ("bf16", "float32"):
            times[precision].append(score(reference, genes, model, str(work / f"speed_{precision}_{r}"),
                                          precision, "openvino"))
    nt = int((genes["end"] - genes["start"] + 1).sum())
    return {p: {"seconds": t, "gene_nt_per_s": nt / float(np.median(t))} for p, t in times.items()}


def report(res: dict) -> str:
    c = res["comparison"]
    lines = [f"bf16 vs float32 on {res['genes']} genes, {c['positions']:,} positions ({res['cpu']})", "",
             "| float32 \\ bf16 | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for a in LABELS:
        lines.append(f"| {a} | " + " | ".join(f"{c['agreement_table'][a][b]:,}" for b in LABELS) + " |")
    lines += ["", f"labels changed: {c['labels_changed']:,} of {c['positions']:,} positions "
              f"({c['labels_changed'] / c['positions']:.2e}); max |diff| {c['max_abs_diff']:.4f}; "
              f"|diff| > 0.01 at {c['share_diff_over_0.01']:.2e} of positions"]
    for site, tk in c["top_k"].items():
        lines.append(f"top-k {site}: float32 {tk['float32']:.4f}, bf16 {tk['bf16']:.4f}")
    for p, s in res["speed"].items():
        lines.append(f"speed {p}: {s['gene_nt_per_s']:,.0f} gene-nt/s (median of {len(s['seconds'])})")
    ratio = res["speed"]["bf16"]["gene_nt_per_s"] / res["speed"]["float32"]["gene_nt_per_s"]
    lines.append(f"bf16 / float32 speed: {ratio:.2f}x")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", required=True, help="tables from fastbuild prepare")
    p.add_argument("--scores", required=True, help="float32 score store holding the genes")
    p.add_argument("--model", required=True, help="the model that wrote --scores")
    p.add_argument("--n-genes", type=int, default=1000)
    p.add_argument("--speed-genes", type=int, default=60)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)
    genes = choose_genes(args.reference, args.scores, args.n_genes, args.seed)
    with tempfile.TemporaryDirectory(prefix="fastbuild-precision-") as tmp:
        work = Path(tmp)
        ids = work / "genes.txt"
        ids.write_text("\n".join(genes["gene_id"]) + "\n")
        seconds = score(args.reference, genes, args.model, str(work / "bf16"), "bf16", "openvino")
        comparison = compare(eval_rows(args.reference, args.scores, ids), eval_rows(args.reference,
                                                                                    str(work / "bf16"), ids))
        res = {"cpu": cpu_name(), "genes": genes.height, "bf16_seconds_all_genes": seconds, "comparison": comparison,
               "speed": speed(args.reference, genes.head(args.speed_genes), args.model, work, args.rounds)}
    print(report(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
