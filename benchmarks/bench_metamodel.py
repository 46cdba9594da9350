#!/usr/bin/env python3
"""Meta-model benchmark: does a LightGBM model over a fastbuild dataset beat its base model?

Genes are held out by region, whole gene clusters at a time: the train genes (and a validation
part of them, for early stopping) come from one part of the genome, the test genes from another.
On the train genes a training set is built with the default downsampling and its
``sample_weight``; on the test genes an evaluation-mode set (every position). A 3-class LightGBM
model is trained with the weights, so its probabilities carry the full-data class prior and the
base model's 0.5 threshold applies to them unchanged, for (a) the sequence-available features
(``fastbuild.drop_for_training`` dropped) and (b) every feature (``drop_for_annotated_training``).

On the held-out genes, for donors and acceptors separately, base model and meta-model are
labelled the way fastbuild labels (``fastbuild_kernels.label_positions``: threshold 0.5, +-2 nt
consensus window) and compared by FP, FN, FP+FN, top-k accuracy (SpliceAI's: k = number of true
sites of the type) and PR-AUC (average precision), with 95% bootstrap intervals over genes. An
ablation retrains the sequence-only model on other sampling settings (local-peak negatives off,
no easy floor, another hard-negative threshold) and with local sequence codes (--sequence-flank).

Example (Arabidopsis chr1 with its OpenSpliceAI scores)::

    python benchmarks/bench_metamodel.py --reference /tmp/e2e/ref --scores /tmp/e2e/scores \
        --n-train 1500 --n-test 500 --json metamodel.json

Region mode (``--train-region``, ``--test-region``, ``--compositions``; docs/benchmarks.md, "Meta-model
training-set composition"): train on the genes wholly inside each training region, once per gene-type
composition of them (every type, protein-coding only, protein-coding + lncRNA, pseudogenes down-weighted,
the build default), and score each model on every held-out region (eval mode), with FP and FN per
held-out gene type::

    C=NC_003070.9
    python benchmarks/bench_metamodel.py --reference REF --scores SCORES --train-region arm=$C:3000000-5200000 \
        --train-region peri=$C:12200000-14800000 --test-region arm_test=$C:24000000-26000000 \
        --test-region peri_test=$C:14900000-17300000 --threads 1 --learning-rate 0.1 --early-stopping 20

With no inputs it runs on the embedded demo (700 kb of Arabidopsis chr1, ~265 genes, real
OpenSpliceAI scores). Needs ``lightgbm`` (``pip install 'fastbuild-splice[metamodel]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import fastbuild_kernels as kernels  # noqa: E402
from fastbuild.errors import FastbuildError  # noqa: E402
from fastbuild_kernels.labels import FN, FP, TP  # noqa: E402

TYPES = {"donor": 1, "acceptor": 2}  # y codes
SEQ_PREFIX = "nt_"
EXTRA_PREFIX = "xctx_"
#: Experimental long-range score features (not fastbuild columns), computed by the benchmark from the
#: genes' whole score arrays: sums of each type's probability 3..W nt up- and downstream, and maxima
#: 3..MAX_WIDTH nt up- and downstream. Sets of them, by variant ("extra"): name -> (sum widths, maxima).
SUM_WIDTHS = (30, 100, 300, 1000, 3000)
MAX_WIDTH = 50
EXTRA_SETS = {"sums": ((100, 1000), False), "rich": (SUM_WIDTHS, True)}
#: Ablation variants: sampling options of the training build and the --sequence-flank features used.
VARIANTS = {
    "default": {"build": {}, "flank": 0},
    "flank20": {"build": {}, "flank": 20},
    "no_peaks": {"build": {"peak_prob": 1.0}, "flank": 0},
    "floor0": {"build": {"easy_floor": 0}, "flank": 0},
    "hard0.05": {"build": {"hard_prob": 0.05}, "flank": 0},
    "no_peaks_floor0": {"build": {"peak_prob": 1.0, "easy_floor": 0}, "flank": 0},
    "window25": {"build": {"window": 25}, "flank": 0},
    "keep_all": {"build": {"eval_mode": True}, "flank": 0},
    "long_context": {"build": {}, "flank": 0, "extra": "sums"},
    "long_context_w25": {"build": {"window": 25}, "flank": 0, "extra": "sums"},
    "rich_context": {"build": {}, "flank": 0, "extra": "rich"},
    "rich_context_w25": {"build": {"window": 25}, "flank": 0, "extra": "rich"},
}
#: --feature-set of the region mode -> the schema metadata key listing the columns it drops.
FEATURE_SETS = {"sequence": "fastbuild.drop_for_training", "annotated": "fastbuild.drop_for_annotated_training"}

#: Variants run unless --variants says otherwise (keep_all trains on every position: slow on big sets;
#: long_context_w25 is rich_context_w25 with fewer columns).
DEFAULT_VARIANTS = ("default", "flank20", "no_peaks", "floor0", "hard0.05", "window25", "long_context",
                    "rich_context", "rich_context_w25")


# ---------------------------------------------------------------------------- metrics


def count_errors(prob: np.ndarray, sites: np.ndarray, threshold: float = 0.5, window: int = 2) -> tuple[int, int, int]:
    """(TP, FP, FN) of one site type in one gene, labelled as fastbuild labels (kernels.label_positions)."""
    prob = np.ascontiguousarray(prob, dtype=np.float32)
    pred, _ = kernels.label_positions(prob, np.zeros_like(prob), sites, np.empty(0, np.int64), threshold, window)
    counts = np.bincount(pred, minlength=4)
    return int(counts[TP]), int(counts[FP]), int(counts[FN])


@dataclass
class Ranking:
    """One score array over pooled positions, sorted once for weighted top-k and average precision."""

    gene: np.ndarray  # gene index of each position, in descending score order
    site: np.ndarray  # 1 where the position is a true site, same order
    last: np.ndarray  # True at the last position of each run of tied scores

    @classmethod
    def of(cls, score: np.ndarray, is_site: np.ndarray, gene: np.ndarray) -> Ranking:
        order = np.argsort(-np.asarray(score, np.float64), kind="stable")
        s = np.asarray(score)[order]
        last = np.empty(s.size, bool)
        last[:-1] = s[1:] != s[:-1]
        last[-1:] = True
        return cls(np.asarray(gene)[order], np.asarray(is_site, np.int64)[order], last)

    def metrics(self, gene_weight: np.ndarray | None = None) -> tuple[float, float]:
        """(top-k accuracy, average precision) with each gene's positions counted ``gene_weight`` times."""
        w = np.ones(self.gene.size, np.int64) if gene_weight is None else gene_weight[self.gene]
        tp = np.cumsum(w * self.site)
        seen = np.cumsum(w)
        k = int(tp[-1]) if tp.size else 0
        if k == 0:
            return math.nan, math.nan
        i = int(np.searchsorted(seen, k))  # first index whose cumulative weight reaches k
        before_tp, before_seen = (int(tp[i - 1]), int(seen[i - 1])) if i else (0, 0)
        topk = (before_tp + (k - before_seen) * int(self.site[i])) / k
        tp_b, seen_b = tp[self.last], seen[self.last]
        precision = np.divide(tp_b, seen_b, out=np.zeros(tp_b.size), where=seen_b > 0)
        recall_step = np.diff(tp_b, prepend=0) / k
        return float(topk), float(np.sum(recall_step * precision))


def average_precision(score, is_site) -> float:
    """Average precision (sklearn's definition: sum over thresholds of recall step x precision)."""
    return Ranking.of(np.asarray(score), np.asarray(is_site), np.zeros(len(score), np.int64)).metrics()[1]


def topk_accuracy(score, is_site) -> float:
    """SpliceAI's top-k accuracy: fraction of true sites among the k top-scored positions, k = sites."""
    return Ranking.of(np.asarray(score), np.asarray(is_site), np.zeros(len(score), np.int64)).metrics()[0]


def bootstrap_weights(n_genes: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot x n_genes`` multiplicities of genes resampled with replacement."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n_genes, n_genes), minlength=n_genes) for _ in range(n_boot)])


def interval(values) -> list[float]:
    """95% percentile interval (NaNs dropped)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v.size else [math.nan, math.nan]


def relative_change(new, old):
    """(new - old) / old, elementwise; NaN where old is 0."""
    new, old = np.asarray(new, np.float64), np.asarray(old, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old > 0, (new - old) / np.where(old > 0, old, 1), np.nan)


# ---------------------------------------------------------------------------- evaluation set


@dataclass
class EvalSet:
    """Every position of the held-out genes, sorted by gene and offset (transcript orientation)."""

    genes: list[str]
    gene: np.ndarray  # gene index per position
    starts: np.ndarray  # first position of each gene (len genes + 1)
    y: np.ndarray
    base: dict[str, np.ndarray] = field(default_factory=dict)  # type -> base model probability

    @classmethod
    def of(cls, df: pl.DataFrame) -> EvalSet:
        df = df.select("gene_id", "rel_position", "y", "donor_score", "acceptor_score")
        genes = df["gene_id"].unique(maintain_order=True).to_list()
        gene = df["gene_id"].replace_strict(genes, list(range(len(genes))), return_dtype=pl.Int64).to_numpy()
        starts = np.searchsorted(gene, np.arange(len(genes) + 1))
        rel = df["rel_position"].to_numpy()
        if np.any(rel != np.arange(rel.size) - starts[gene]):
            raise FastbuildError("evaluation set is not every position of each gene in order; build it with eval_mode")
        base = {t: df[f"{t}_score"].to_numpy().astype(np.float32) for t in TYPES}
        return cls(genes, gene, starts, df["y"].to_numpy(), base)

    def gene_errors(self, prob: np.ndarray, code: int, threshold: float = 0.5) -> np.ndarray:
        """(TP, FP, FN) per gene, shape (genes, 3), of one site type."""
        out = np.zeros((len(self.genes), 3), np.int64)
        for g in range(len(self.genes)):
            lo, hi = self.starts[g], self.starts[g + 1]
            out[g] = count_errors(prob[lo:hi], np.flatnonzero(self.y[lo:hi] == code), threshold)
        return out


THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def tune_thresholds(ev: EvalSet, probs: dict[str, np.ndarray]) -> dict[str, float]:
    """Per type, the threshold of THRESHOLDS with the fewest FP+FN on ``ev`` (ties: nearest 0.5)."""
    best = {}
    for t, code in TYPES.items():
        errors = {th: int(ev.gene_errors(probs[t], code, th)[:, 1:].sum()) for th in THRESHOLDS}
        best[t] = min(THRESHOLDS, key=lambda th: (errors[th], abs(th - 0.5)))
    return best


def _errors(ev: EvalSet, prob: np.ndarray, code: int, threshold: float) -> dict:
    errs = ev.gene_errors(prob, code, threshold)
    tp, fp, fn = (int(x) for x in errs.sum(0))
    return {"threshold": threshold, "tp": tp, "fp": fp, "fn": fn, "fp_fn": fp + fn,
            "_fp_fn_gene": errs[:, 1] + errs[:, 2]}


def score_model(ev: EvalSet, probs: dict[str, np.ndarray], boot: np.ndarray, tuned: dict | None = None) -> dict:
    """Per type: TP/FP/FN at 0.5 (per gene too, for the bootstrap) and, under ``tuned``, at the tuned
    threshold; top-k and PR-AUC with bootstrap intervals (resampled only when ``boot`` has rows)."""
    out = {}
    for t, code in TYPES.items():
        res = {**_errors(ev, probs[t], code, 0.5), "sites": int((ev.y == code).sum())}
        if tuned:
            res["tuned"] = _errors(ev, probs[t], code, tuned[t])
        rk = Ranking.of(probs[t], ev.y == code, ev.gene)
        draws = np.array([rk.metrics(b) for b in boot], np.float64).reshape(len(boot), 2)
        for i, (name, value) in enumerate(zip(("topk", "pr_auc"), rk.metrics(), strict=True)):
            res[name] = {"value": value, "ci95": interval(draws[:, i])}
            res[f"_{name}_draws"] = draws[:, i]
        out[t] = res
    return out


def _fp_fn_change(base: dict, meta: dict, boot: np.ndarray, types: list[str]) -> dict:
    b = sum(base[t]["_fp_fn_gene"] for t in types)
    m = sum(meta[t]["_fp_fn_gene"] for t in types)
    draws = relative_change(boot @ m, boot @ b)
    return {"base_fp_fn": int(b.sum()), "meta_fp_fn": int(m.sum()),
            "rel_change": float(relative_change(m.sum(), b.sum())), "ci95": interval(draws)}


def compare(base: dict, meta: dict, boot: np.ndarray) -> dict:
    """Relative change of FP+FN (meta vs base) per type and both together, with bootstrap intervals;
    under ``tuned`` both at their thresholds tuned on the validation genes."""
    out = {}
    for key in (*TYPES, "both"):
        types = list(TYPES) if key == "both" else [key]
        out[key] = _fp_fn_change(base, meta, boot, types)
        if all("tuned" in base[t] and "tuned" in meta[t] for t in types):
            out[key]["tuned"] = _fp_fn_change({t: base[t]["tuned"] for t in types},
                                              {t: meta[t]["tuned"] for t in types}, boot, types)
        for name in ("topk", "pr_auc"):
            if key != "both":
                d = meta[key][f"_{name}_draws"] - base[key][f"_{name}_draws"][:len(meta[key][f"_{name}_draws"])]
                out[key][f"delta_{name}"] = {"value": meta[key][name]["value"] - base[key][name]["value"],
                                             "ci95": interval(d)}
    return out


def versus(base: dict, a: dict, b: dict, boot: np.ndarray) -> dict:
    """Paired bootstrap of ``a``'s minus ``b``'s relative FP+FN change (both types; negative: ``a`` better)."""
    def change(m, w=None):
        tot = [sum(r[t]["_fp_fn_gene"] for t in TYPES) for r in (m, base)]
        return relative_change(tot[0].sum(), tot[1].sum()) if w is None else relative_change(w @ tot[0], w @ tot[1])

    return {"value": float(change(a) - change(b)), "ci95": interval(change(a, boot) - change(b, boot))}


def public(result: dict) -> dict:
    """``result`` without the private bootstrap arrays (keys starting with '_')."""
    if isinstance(result, dict):
        return {k: public(v) for k, v in result.items() if not str(k).startswith("_")}
    return result


# ---------------------------------------------------------------------------- genes and builds


def load_genes(reference: str | None, scores: str | None) -> pl.DataFrame:
    """Genes (gene_id, chrom, start, end, strand) of the reference, or of the score store (demo)."""
    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.demo import demo_scores
    from fastbuild.reference import read_reference_table

    store = ScoreStore(scores or demo_scores())
    if reference is None:
        genes = store.index()
    else:
        genes = read_reference_table(reference, "genes")
    genes = genes.select("gene_id", "chrom", pl.col("start", "end").cast(pl.Int64), "strand")
    return genes.with_columns(scored=pl.col("gene_id").is_in(store.genes()))


def default_split(genes: pl.DataFrame, test_fraction: float) -> str:
    """``region:`` spec: the last ``test_fraction`` of the genes (by midpoint) of the largest contig are test."""
    chrom = genes.group_by("chrom").len().sort(["len", "chrom"], descending=[True, False])["chrom"][0]
    mids = genes.filter(pl.col("chrom") == chrom).select(((pl.col("start") + pl.col("end")) // 2).alias("m"))["m"]
    cut = int(mids.sort()[int(len(mids) * (1 - test_fraction))])
    end = int(genes.filter(pl.col("chrom") == chrom)["end"].max())
    return f"region:test={chrom}:{cut}-{end};train=rest"


def choose_genes(genes: pl.DataFrame, split: str, n: dict[str, int], valid_fraction: float,
                 seed: int) -> tuple[dict[str, list[str]], dict]:
    """Whole gene clusters drawn at random (seeded) in the train and test splits, then a validation
    part of the train clusters (for early stopping); only genes with scores."""
    from fastbuild.builder.splits import split_genes

    assign = split_genes(genes, split)
    g = genes.with_columns(split=assign.split, cluster=assign.cluster).filter(pl.col("scored"))
    rng = np.random.default_rng(seed)
    picked = {}
    for name in ("train", "test"):
        sizes = g.filter(pl.col("split") == name).group_by("cluster").len().sort("cluster")
        if sizes.height == 0:
            raise FastbuildError(f"split {split!r} gives no scored gene to '{name}'; name the splits train and test")
        order = rng.permutation(sizes.height)
        take = np.cumsum(sizes["len"].to_numpy()[order]) <= max(n[name], 1)
        take[0] = True
        picked[name] = sizes["cluster"].to_numpy()[order][take]
    n_valid = max(1, round(len(picked["train"]) * valid_fraction))
    clusters = {"valid": picked["train"][:n_valid], "train": picked["train"][n_valid:], "test": picked["test"]}
    ids = {k: sorted(g.filter(pl.col("cluster").is_in(list(v)))["gene_id"].to_list()) for k, v in clusters.items()}
    return ids, {"split": split, "summary": assign.summary, "genes": {k: len(v) for k, v in ids.items()},
                 "clusters": {k: len(v) for k, v in clusters.items()}}


@dataclass
class Builder:
    """Runs in-memory builds of chosen genes with the options shared by every build of a run."""

    common: dict
    work: Path

    def build(self, name: str, gene_ids: list[str], **options) -> tuple[pl.DataFrame, dict, float]:
        """(rows, schema metadata, seconds) of a build of ``gene_ids``."""
        import fastbuild

        ids = self.work / f"{name}.txt"
        ids.write_text("\n".join(gene_ids) + "\n")
        t0 = time.perf_counter()
        res = fastbuild.build_dataset(output_dir=None, progress=False, subset_policy="custom",
                                      gene_ids_file=str(ids), **self.common, **options)
        meta = {k.decode(): v.decode() for k, v in res.table.schema.metadata.items()}
        df = res.to_polars()
        return df, meta, time.perf_counter() - t0


# ---------------------------------------------------------------------------- features and model


def extra_names(extra: str) -> set[str]:
    """Long-range columns of an EXTRA_SETS entry ('' for none)."""
    if not extra:
        return set()
    widths, maxima = EXTRA_SETS[extra]
    names = {f"{EXTRA_PREFIX}{t}_sum_{d}{w}" for t in TYPES for d in ("up", "down") for w in widths}
    if maxima:
        names |= {f"{EXTRA_PREFIX}{t}_max_{d}{MAX_WIDTH}" for t in TYPES for d in ("up", "down")}
    return names


def feature_names(df: pl.DataFrame, meta: dict, drop_key: str, flank: int, extra: str = "") -> list[str]:
    """Training columns: all but the schema's drop list, local sequence codes limited to ``flank``,
    the benchmark's own long-range columns of set ``extra`` only."""
    from fastbuild.builder.schema import sequence_code_names

    drop = set(json.loads(meta[drop_key]))
    codes, extras = set(sequence_code_names(flank)), extra_names(extra)
    return [c for c in df.columns if c not in drop and (not c.startswith(SEQ_PREFIX) or c in codes)
            and (not c.startswith(EXTRA_PREFIX) or c in extras)]


def _window_features(a: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
    """Sums of ``a`` over 3..W nt up- and downstream of each position (the +-2 core excluded), and maxima."""
    from numpy.lib.stride_tricks import sliding_window_view

    c = np.concatenate([[0.0], np.cumsum(a, dtype=np.float64)])
    n = a.size
    out = {}
    for w in SUM_WIDTHS:
        out[f"sum_down{w}"] = c[np.minimum(n, pos + w + 1)] - c[np.minimum(n, pos + 3)]
        out[f"sum_up{w}"] = c[np.maximum(0, pos - 2)] - c[np.maximum(0, pos - w)]
    span = MAX_WIDTH - 2  # offsets 3..MAX_WIDTH
    pad = np.concatenate([np.zeros(MAX_WIDTH, np.float32), a, np.zeros(MAX_WIDTH, np.float32)])
    wmax = sliding_window_view(pad, span).max(axis=1)  # wmax[i] = max(pad[i : i + span])
    out[f"max_down{MAX_WIDTH}"] = wmax[pos + MAX_WIDTH + 3]
    out[f"max_up{MAX_WIDTH}"] = wmax[pos]
    return out


def add_long_context(df: pl.DataFrame, genes: pl.DataFrame, scores: str | None) -> pl.DataFrame:
    """``df`` with the experimental long-range columns (EXTRA_PREFIX) of every position, from the genes'
    whole score arrays (transcript orientation). Sequence-available: base-model scores only."""
    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.demo import demo_scores

    rows = df.select("gene_id", "rel_position").with_row_index("_i").group_by("gene_id").agg("_i", "rel_position")
    where = {g: (np.asarray(i), np.asarray(r)) for g, i, r in rows.iter_rows()}
    cols: dict[str, np.ndarray] = {}
    wanted = genes.filter(pl.col("gene_id").is_in(list(where)))
    for info, donor, acceptor, _ in ScoreStore(scores or demo_scores()).iter_gene_scores(wanted):
        idx, pos = where[info["gene_id"]]
        for t, arr in (("donor", donor), ("acceptor", acceptor)):
            for name, v in _window_features(np.asarray(arr, np.float32), pos).items():
                cols.setdefault(f"{EXTRA_PREFIX}{t}_{name}", np.full(df.height, np.nan, np.float32))[idx] = v
    return df.with_columns(pl.Series(k, v) for k, v in cols.items())


def matrix(df: pl.DataFrame, names: list[str], vocab: dict[str, list[str]]) -> np.ndarray:
    """float32 ``[rows, features]``: nulls as NaN, categorical columns as codes of ``vocab``."""
    X = np.empty((df.height, len(names)), np.float32)
    for j, c in enumerate(names):
        col = df[c]
        if c in vocab:
            col = col.cast(pl.Utf8).replace_strict(vocab[c], list(range(len(vocab[c]))), default=None,
                                                   return_dtype=pl.Float32)
        elif col.dtype == pl.Boolean:
            col = col.cast(pl.Float32)
        X[:, j] = col.cast(pl.Float32).fill_null(np.nan).to_numpy()
    return X


def categorical_vocab(df: pl.DataFrame, names: list[str]) -> dict[str, list[str]]:
    """Sorted values of every categorical / string training column (from the training rows)."""
    cats = [c for c in names if df[c].dtype in (pl.Categorical, pl.Enum, pl.Utf8)]
    return {c: sorted(v for v in df[c].cast(pl.Utf8).unique().to_list() if v is not None) for c in cats}


@dataclass
class Fit:
    names: list[str]
    vocab: dict
    booster: object
    best_iteration: int
    seconds: float
    train_rows: int

    def predict(self, df: pl.DataFrame) -> dict[str, np.ndarray]:
        """Donor and acceptor probabilities of every row of ``df``."""
        p = self.booster.predict(matrix(df, self.names, self.vocab), num_iteration=self.best_iteration)
        return {t: np.ascontiguousarray(p[:, code], np.float32) for t, code in TYPES.items()}


def train(train_df: pl.DataFrame, valid_df: pl.DataFrame, names: list[str], args) -> Fit:
    """3-class weighted LightGBM with early stopping on the validation genes."""
    import lightgbm as lgb

    t0 = time.perf_counter()
    vocab = categorical_vocab(train_df, names)
    cat = [names.index(c) for c in vocab]
    params = {"objective": "multiclass", "num_class": 3, "learning_rate": args.learning_rate,
              "num_leaves": args.num_leaves, "min_data_in_leaf": 50, "feature_fraction": args.feature_fraction,
              "bagging_fraction": args.bagging_fraction, "bagging_freq": 1, "max_bin": args.max_bin,
              "lambda_l2": 1.0, "min_sum_hessian_in_leaf": 1.0, "num_threads": args.threads, "seed": args.seed,
              "deterministic": True, "force_col_wise": True, "verbose": -1}

    def dataset(df, reference=None):
        return lgb.Dataset(matrix(df, names, vocab), label=df["y"].to_numpy(), weight=df["sample_weight"].to_numpy(),
                           feature_name=names, categorical_feature=cat, reference=reference, free_raw_data=True)

    dtrain = dataset(train_df)
    dvalid = dataset(valid_df, dtrain)
    booster = lgb.train(params, dtrain, num_boost_round=args.rounds, valid_sets=[dvalid],
                        callbacks=[lgb.early_stopping(args.early_stopping, verbose=False)])
    best = booster.best_iteration or args.rounds
    return Fit(names, vocab, booster, best, time.perf_counter() - t0, train_df.height)


# ---------------------------------------------------------------------------- the run


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", help="prepared reference folder (fastbuild prepare); default: the demo")
    p.add_argument("--scores", help="score store of the base model (needed with --reference)")
    p.add_argument("--split", help="fastbuild --split spec naming 'train' and 'test' (region:/chrom:/file:); "
                                   "default: the last --test-fraction of the largest contig's genes are test")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--n-train", type=int, default=1500, help="train genes (validation part included)")
    p.add_argument("--n-test", type=int, default=500, help="held-out genes")
    p.add_argument("--valid-fraction", type=float, default=0.15, help="part of the train clusters for early stopping")
    p.add_argument("--sequence-flank", type=int, default=0, help="local sequence codes of the main models")
    p.add_argument("--kmer-sizes", type=int, nargs="+", default=[3])
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--early-stopping", type=int, default=30)
    p.add_argument("--num-leaves", type=int, default=63)
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--feature-fraction", type=float, default=0.5)
    p.add_argument("--bagging-fraction", type=float, default=0.5)
    p.add_argument("--max-bin", type=int, default=63)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the held-out genes")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"ablation variants, comma separated ({', '.join(VARIANTS)}); 'none' for no ablation")
    p.add_argument("--train-region", action="append", default=[], metavar="[NAME=]CHROM:START-END",
                   help="region mode: train on the genes wholly inside this region ('+' joins regions; repeatable: "
                        "each one trains its own models); needs --test-region; replaces --split, --n-train, --n-test")
    p.add_argument("--test-region", action="append", default=[], metavar="[NAME=]CHROM:START-END",
                   help="region mode: a held-out region, built with --eval-mode (repeatable)")
    p.add_argument("--compositions", default=",".join(DEFAULT_COMPOSITIONS),
                   help=f"region mode: gene-type compositions of the training genes ({', '.join(COMPOSITIONS)})")
    p.add_argument("--feature-set", choices=sorted(FEATURE_SETS), default="sequence",
                   help="region mode: the sequence-available features (schema's fastbuild.drop_for_training "
                        "dropped), or every feature, annotation-derived ones (gene_type ...) included "
                        "(fastbuild.drop_for_annotated_training dropped)")
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)
    if bool(args.train_region) != bool(args.test_region):
        p.error("--train-region and --test-region go together")
    args.compositions = [c.strip() for c in args.compositions.split(",") if c.strip()]
    if any(c not in COMPOSITIONS for c in args.compositions) or not args.compositions:
        p.error(f"--compositions: choose from {', '.join(COMPOSITIONS)}")
    if args.reference and not args.scores:
        p.error("--reference needs --scores (the base model's score store for it)")
    args.variants = [] if args.variants == "none" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return args


def _common_options(args, split: str) -> dict:
    opts = {"kmer_sizes": tuple(args.kmer_sizes), "split": split, "seed": args.seed}
    if args.reference:
        opts.update(reference=args.reference, scores=args.scores)
    return opts


def _check_split_column(df: pl.DataFrame, want: str, what: str) -> None:
    found = set(df["split"].cast(pl.Utf8).unique().to_list())
    if found != {want}:
        raise FastbuildError(f"{what} rows carry split {sorted(map(str, found))}, expected only {want!r}")


def _sampling_key(variant: str) -> str:
    return json.dumps(VARIANTS[variant]["build"], sort_keys=True)


def model_jobs(args) -> dict[str, tuple]:
    """name -> (sampling key, drop list key, sequence flank, bootstrap the ranking metrics, long-range columns)."""
    default = _sampling_key("default")
    jobs = {"meta_sequence": (default, "fastbuild.drop_for_training", args.sequence_flank, True, ""),
            "meta_all": (default, "fastbuild.drop_for_annotated_training", args.sequence_flank, True, "")}
    for v in args.variants:
        extra = VARIANTS[v].get("extra", "")
        jobs[f"ablation:{v}"] = (_sampling_key(v), "fastbuild.drop_for_training", VARIANTS[v]["flank"], False, extra)
    return jobs


@dataclass
class HeldOut:
    """What every model is trained against and scored on."""

    eval_df: pl.DataFrame
    meta: dict  # schema metadata (drop lists)
    ev: EvalSet
    boot: np.ndarray
    valid_df: pl.DataFrame  # every position of the validation genes (early stopping, threshold tuning)
    valid_ev: EvalSet
    extra: object  # df -> df with the long-range columns, or None when no job uses them


def _fit_and_predict(args, train_df: pl.DataFrame, h: HeldOut, drop: str, flank: int, extra: str) -> tuple:
    """(fit, held-out probabilities, thresholds tuned on the validation genes, predict seconds)."""
    fit = train(train_df, h.valid_df, feature_names(train_df, h.meta, drop, flank, extra), args)
    t0 = time.perf_counter()
    probs = fit.predict(h.eval_df)
    seconds = time.perf_counter() - t0
    return fit, probs, tune_thresholds(h.valid_ev, fit.predict(h.valid_df)), seconds


def run_models(args, builder: Builder, ids: dict, h: HeldOut, flank: int) -> dict:
    """Train every model, one training build (sampling) at a time, and score it on the held-out genes."""
    out = {"scored": {}, "fits": {}, "build_s": {}, "train_rows": {}}
    jobs = model_jobs(args)
    for key in dict.fromkeys(j[0] for j in jobs.values()):
        train_df, _, out["build_s"][f"train {key}"] = builder.build("train", ids["train"], sequence_flank=flank,
                                                                  **json.loads(key))
        _check_split_column(train_df, "train", "training")
        out["train_rows"][key] = train_df.height
        if h.extra is not None:
            train_df = h.extra(train_df)
        done = {}
        for name, (k, drop, fl, ranking, extra) in jobs.items():
            if k == key:
                if (drop, fl, extra) not in done:
                    done[drop, fl, extra] = _fit_and_predict(args, train_df, h, drop, fl, extra)
                fit, probs, tuned, predict_s = done[drop, fl, extra]
                out["scored"][name] = score_model(h.ev, probs, h.boot if ranking else h.boot[:0], tuned)
                out["fits"][name] = {"features": len(fit.names), "train_rows": fit.train_rows,
                                     "best_iteration": fit.best_iteration, "train_s": round(fit.seconds, 1),
                                     "predict_s": round(predict_s, 1), "sampling": json.loads(key),
                                     "drop_list": drop, "sequence_flank": fl, "long_context": extra}
        del train_df, done
    return out


def held_out(args, builder: Builder, ids: dict, genes: pl.DataFrame, flank: int) -> tuple[HeldOut, float]:
    """The evaluation set (every position of the test genes), its bootstrap, and the validation rows."""
    eval_df, meta, eval_s = builder.build("test", ids["test"], eval_mode=True, sequence_flank=flank)
    _check_split_column(eval_df, "test", "evaluation")
    eval_df = eval_df.sort(["gene_id", "rel_position"])
    ev = EvalSet.of(eval_df)
    valid_df = builder.build("valid", ids["valid"], eval_mode=True, sequence_flank=flank)[0]
    valid_df = valid_df.sort(["gene_id", "rel_position"])
    extra = None
    if any(j[4] for j in model_jobs(args).values()):
        def extra(df):
            return add_long_context(df, genes, args.scores)

        eval_df, valid_df = extra(eval_df), extra(valid_df)
    boot = bootstrap_weights(len(ev.genes), args.bootstrap, args.seed)
    return HeldOut(eval_df, meta, ev, boot, valid_df, EvalSet.of(valid_df), extra), eval_s


def run(args) -> dict:
    """The whole benchmark; returns every number (JSON-ready)."""
    t0 = time.perf_counter()
    genes = load_genes(args.reference, args.scores)
    split = args.split or default_split(genes, args.test_fraction)
    ids, selection = choose_genes(genes, split, {"train": max(args.n_train, 2), "test": args.n_test},
                                  args.valid_fraction, args.seed)
    flank = max([args.sequence_flank, *(VARIANTS[v]["flank"] for v in args.variants)])
    with tempfile.TemporaryDirectory(prefix="fastbuild-metamodel-") as tmp:
        builder = Builder(_common_options(args, split), Path(tmp))
        h, eval_s = held_out(args, builder, ids, genes, flank)
        models = run_models(args, builder, ids, h, flank)
    base = score_model(h.ev, h.ev.base, h.boot, tune_thresholds(h.valid_ev, h.valid_ev.base))
    scored = models["scored"]
    comparisons = {name: compare(base, res, h.boot) for name, res in scored.items()}
    if "ablation:default" in scored:
        for name, res in scored.items():
            if name.startswith("ablation:"):
                comparisons[name]["vs_default"] = versus(base, res, scored["ablation:default"], h.boot)
    return {"selection": selection, "eval_positions": int(h.ev.y.size), "train_rows": models["train_rows"],
            "build_s": {"eval": round(eval_s, 1), **{k: round(v, 1) for k, v in models["build_s"].items()}},
            "bootstrap": args.bootstrap, "base": public(base), "models": public(models["scored"]),
            "fits": models["fits"], "comparisons": comparisons,
            "options": {k: v for k, v in vars(args).items() if k != "json"},
            "total_s": round(time.perf_counter() - t0, 1)}


# ---------------------------------------------------------------------------- regions and gene types

#: Gene-type ablation of the training genes (--compositions): name -> (gene types kept, None for every
#: type; sample_weight factor of pseudogene rows). ``default`` is whatever a training build does with no
#: gene-type flag (``fastbuild build`` defaults); ``all`` keeps every type (``--pseudogenes keep``).
COMPOSITIONS = {
    "default": (None, 1.0),
    "all": (None, 1.0),
    "protein_coding": (("protein_coding",), 1.0),
    "coding_lncrna": (("protein_coding", "lncRNA"), 1.0),
    "pseudo_down": (None, 0.1),
    "pseudo_down03": (None, 0.3),
}
DEFAULT_COMPOSITIONS = ("default", "all", "protein_coding", "coding_lncrna", "pseudo_down")
#: Build options of the ``all`` composition (every gene type, as before the training default existed).
ALL_TYPES_OPTIONS = {"pseudogenes": "keep"}
_REGION_RE = re.compile(r"^(?:([A-Za-z0-9_.-]+)=)?([^:=]+):([0-9,]+)-([0-9,]+)$")


def is_pseudogene(gene_type) -> bool:
    """True for every pseudogene type (RefSeq pseudogene / transcribed_pseudogene, GENCODE *_pseudogene)."""
    return gene_type is not None and "pseudogene" in str(gene_type).lower()


def type_group(gene_type) -> str:
    """Held-out genes are reported in four groups: protein_coding, lncRNA, pseudogene, other."""
    if gene_type in ("protein_coding", "lncRNA"):
        return gene_type
    return "pseudogene" if is_pseudogene(gene_type) else "other"


def parse_region(text: str) -> tuple[str, str, int, int]:
    """``[NAME=]CHROM:START-END`` (1-based inclusive) -> (name, chrom, start, end); name defaults to the text."""
    m = _REGION_RE.match(text.strip())
    if not m:
        raise FastbuildError(f"region {text!r} is not [NAME=]CHROM:START-END (e.g. arm=NC_003070.9:3000000-5200000)")
    start, end = (int(x.replace(",", "")) for x in m.group(3, 4))
    if not 1 <= start <= end:
        raise FastbuildError(f"region {text!r}: START must be >= 1 and <= END")
    return m.group(1) or text.strip(), m.group(2), start, end


def region_name(region: str) -> str:
    """The name of a ``[NAME=]CHROM:START-END[+CHROM:START-END...]`` region (default: the text)."""
    name, sep, _ = region.partition("=")
    return name.strip() if sep else region.strip()


def region_genes(genes: pl.DataFrame, region: str) -> pl.DataFrame:
    """Scored genes lying wholly inside ``region`` (``+`` joins several), with their gene clusters."""
    from fastbuild.builder.splits import gene_clusters

    inside = pl.lit(False)
    for part in region.partition("=")[2 if "=" in region else 0].split("+"):
        _, chrom, start, end = parse_region(part)
        inside = inside | ((pl.col("chrom") == chrom) & (pl.col("start") >= start) & (pl.col("end") <= end))
    g = genes.filter(inside & pl.col("scored"))
    if g.height == 0:
        raise FastbuildError(f"region {region!r} holds no gene with scores; score it first (fastbuild predict)")
    return g.with_columns(cluster=gene_clusters(g))


def split_valid(g: pl.DataFrame, valid_fraction: float, seed: int) -> dict[str, list[str]]:
    """Train genes of a region -> {'train', 'valid'}: a seeded ``valid_fraction`` of its gene clusters."""
    clusters = g["cluster"].unique().sort().to_numpy()
    order = np.random.default_rng(seed).permutation(clusters.size)
    valid = set(clusters[order[:max(1, round(clusters.size * valid_fraction))]])
    is_valid = g["cluster"].is_in(list(valid))
    return {"train": sorted(g.filter(~is_valid)["gene_id"]), "valid": sorted(g.filter(is_valid)["gene_id"])}


def compose(train_df: pl.DataFrame, composition: str) -> pl.DataFrame:
    """The training rows of one gene-type composition (rows of a gene never depend on the other genes)."""
    types, pseudo_weight = COMPOSITIONS[composition]
    df = train_df if types is None else train_df.filter(pl.col("gene_type").cast(pl.Utf8).is_in(list(types)))
    if pseudo_weight != 1.0:
        pseudo = pl.col("gene_type").cast(pl.Utf8).str.to_lowercase().str.contains("pseudogene")
        df = df.with_columns(sample_weight=pl.when(pseudo).then(pl.col("sample_weight") * pseudo_weight)
                             .otherwise(pl.col("sample_weight")))
    return df


@dataclass
class Region:
    """A held-out region: every position of its genes, their types, the bootstrap and a cached matrix."""

    df: pl.DataFrame
    ev: EvalSet
    groups: np.ndarray  # type group of each gene of ev
    boot: np.ndarray
    cache: dict = field(default_factory=dict)

    def probs(self, fit: Fit) -> dict[str, np.ndarray]:
        key = tuple(fit.names)
        if key not in self.cache:
            self.cache.clear()
            self.cache[key] = matrix(self.df, fit.names, fit.vocab)
        p = fit.booster.predict(self.cache[key], num_iteration=fit.best_iteration)
        return {t: np.ascontiguousarray(p[:, code], np.float32) for t, code in TYPES.items()}


def by_type(region: Region, probs: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """FP and FN (donors and acceptors together, at 0.5) per type group of the held-out genes."""
    errs = sum(region.ev.gene_errors(probs[t], code) for t, code in TYPES.items())
    out = {}
    for group in ("protein_coding", "lncRNA", "pseudogene", "other"):
        sel = region.groups == group
        out[group] = {"genes": int(sel.sum()), "fp": int(errs[sel, 1].sum()), "fn": int(errs[sel, 2].sum())}
    return out


def gene_types_of(df: pl.DataFrame) -> dict[str, str]:
    """gene_id -> gene_type of a build's rows."""
    return dict(df.group_by("gene_id").agg(pl.col("gene_type").first().cast(pl.Utf8)).iter_rows())


def held_out_region(builder: Builder, name: str, g: pl.DataFrame, args) -> Region:
    """Evaluation-mode build (every position) of a held-out region's genes."""
    df = builder.build(f"test_{name}", sorted(g["gene_id"]), eval_mode=True)[0].sort(["gene_id", "rel_position"])
    ev = EvalSet.of(df)
    type_of = gene_types_of(df)
    groups = np.array([type_group(type_of.get(x)) for x in ev.genes])
    return Region(df, ev, groups, bootstrap_weights(len(ev.genes), args.bootstrap, args.seed))


def _region_scores(region: Region, base: dict, probs: dict, tuned: dict) -> dict:
    """FP/FN at 0.5, the FP+FN change against the base model with its bootstrap interval, the change at
    thresholds tuned on the validation genes (base tuned alike), and FP/FN per held-out gene type."""
    meta = score_model(region.ev, probs, region.boot[:0], tuned)
    types = list(TYPES)
    at_half = _fp_fn_change(base, meta, region.boot, types)
    tuned_change = _fp_fn_change({t: base[t]["tuned"] for t in types},
                                 {t: meta[t]["tuned"] for t in types}, region.boot, types)
    return {"fp": sum(meta[t]["fp"] for t in types), "fn": sum(meta[t]["fn"] for t in types), **at_half,
            "thresholds": {t: meta[t]["tuned"]["threshold"] for t in types},
            "tuned": tuned_change, "by_type": by_type(region, probs)}


def _signature(df: pl.DataFrame) -> tuple:
    """Rows of a training set up to order: genes, row count and total weight."""
    return (tuple(sorted(df["gene_id"].unique().to_list())), df.height, round(float(df["sample_weight"].sum()), 3))


def _training_sets(builder: Builder, name: str, train_ids: list[str], compositions) -> tuple[dict, dict]:
    """composition -> training rows, and the schema metadata; ``default`` is a real build with default options."""
    all_df, meta, _ = builder.build(f"train_{name}", train_ids, **ALL_TYPES_OPTIONS)
    sets = {c: compose(all_df, c) for c in compositions if c != "default"}
    if "default" in compositions:
        sets["default"] = builder.build(f"default_{name}", train_ids)[0]
    return sets, meta


def train_region(args, builder: Builder, name: str, g: pl.DataFrame, regions: dict[str, Region]) -> dict:
    """Every composition of one training region: train on it, score it on every held-out region."""
    ids = split_valid(g, args.valid_fraction, args.seed)
    valid_df = builder.build(f"valid_{name}", ids["valid"], eval_mode=True)[0].sort(["gene_id", "rel_position"])
    valid_ev = EvalSet.of(valid_df)
    base_tuned = tune_thresholds(valid_ev, valid_ev.base)
    sets, meta = _training_sets(builder, name, ids["train"], args.compositions)
    base = {n: score_model(r.ev, r.ev.base, r.boot[:0], base_tuned) for n, r in regions.items()}
    out, done = {"genes": {k: len(v) for k, v in ids.items()}, "base_thresholds": base_tuned, "models": {}}, {}
    for comp in args.compositions:
        df = sets[comp]
        sig = _signature(df)
        if sig not in done:
            fit = train(df, valid_df, feature_names(df, meta, FEATURE_SETS[args.feature_set], 0), args)
            tuned = tune_thresholds(valid_ev, fit.predict(valid_df))
            test = {n: _region_scores(r, base[n], r.probs(fit), tuned) for n, r in regions.items()}
            types = list(gene_types_of(df).values())
            done[sig] = {"train_genes": len(types), "pseudogene_genes": sum(map(is_pseudogene, types)),
                         "train_rows": df.height,
                "rounds": fit.best_iteration, "train_s": round(fit.seconds, 1), "test": test}
        out["models"][comp] = {**done[sig], "same_rows_as": next(c for c in args.compositions
                                                                if _signature(sets[c]) == sig)}
    return out


def run_regions(args) -> dict:
    """The region benchmark: each training region x gene-type composition, scored on every held-out region."""
    t0 = time.perf_counter()
    genes = load_genes(args.reference, args.scores)
    trains = {region_name(r): region_genes(genes, r) for r in args.train_region}
    tests = {region_name(r): region_genes(genes, r) for r in args.test_region}
    overlap = {a: b for a, ga in trains.items() for b, gb in tests.items()
               if set(ga["gene_id"]) & set(gb["gene_id"])}
    if overlap:
        raise FastbuildError(f"training and held-out regions share genes: {overlap}; use disjoint regions")
    with tempfile.TemporaryDirectory(prefix="fastbuild-metamodel-") as tmp:
        builder = Builder(_common_options(args, "none"), Path(tmp))
        regions = {n: held_out_region(builder, n, g, args) for n, g in tests.items()}
        base = {n: {"fp": sum(r.ev.gene_errors(r.ev.base[t], c)[:, 1].sum() for t, c in TYPES.items()),
                    "fn": sum(r.ev.gene_errors(r.ev.base[t], c)[:, 2].sum() for t, c in TYPES.items()),
                    "genes": len(r.ev.genes), "positions": int(r.ev.y.size), "by_type": by_type(r, r.ev.base),
                    "gene_types": dict(sorted(Counter(gene_types_of(r.df).values()).items()))}
                for n, r in regions.items()}
        trained = {n: train_region(args, builder, n, g, regions) for n, g in trains.items()}
    return {"regions": {"train": args.train_region, "test": args.test_region},
            "base": json.loads(json.dumps(base, default=int)), "trained": public(trained),
            "options": {k: v for k, v in vars(args).items() if k != "json"},
            "total_s": round(time.perf_counter() - t0, 1)}


def _pct(c: dict) -> str:
    lo, hi = c["ci95"]
    return f"{100 * c['rel_change']:+.1f}% [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def markdown_regions(result: dict) -> str:
    """Per training region x composition x held-out region: FP, FN, the FP+FN change at 0.5 and at tuned
    thresholds; then FP and FN per held-out gene type, base -> meta."""
    base = result["base"]
    lines = ["| training region | composition | train genes (pseudogenes) | rows | rounds | held-out | FP | FN | "
             "FP+FN (base) | change at 0.5 [95% CI] | tuned thresholds (d, a): change |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    types = ["| training region | composition | held-out | gene type (genes) | FP base -> meta | FN base -> meta |",
             "|---|---|---|---|---|---|"]
    for train, res in result["trained"].items():
        for comp, m in res["models"].items():
            same = "" if m["same_rows_as"] == comp else f" (= {m['same_rows_as']})"
            for test, s in m["test"].items():
                th = ", ".join(f"{v:g}" for v in s["thresholds"].values())
                lines.append(f"| {train} | {comp}{same} | {m['train_genes']} ({m['pseudogene_genes']}) | "
                             f"{m['train_rows']} | {m['rounds']} | {test} | {s['fp']} | {s['fn']} | "
                             f"{s['meta_fp_fn']} ({s['base_fp_fn']}) | {_pct(s)} | ({th}): {_pct(s['tuned'])} |")
                for group, v in s["by_type"].items():
                    b = base[test]["by_type"][group]
                    if b["genes"]:
                        types.append(f"| {train} | {comp} | {test} | {group} ({b['genes']}) | {b['fp']} -> {v['fp']} "
                                     f"({v['fp'] - b['fp']:+d}) | {b['fn']} -> {v['fn']} ({v['fn'] - b['fn']:+d}) |")
    return "\n".join([*lines, "", *types])


# ---------------------------------------------------------------------------- report


def _ci(x: dict, pct: bool = False) -> str:
    f = (lambda v: f"{100 * v:+.1f}%") if pct else (lambda v: f"{v:.4f}")
    lo, hi = x["ci95"]
    return f"{f(x['value'] if 'value' in x else x['rel_change'])} [{f(lo)}, {f(hi)}]"


def _main_rows(result: dict, tuned: bool) -> list[str]:
    lines = []
    main = {"base": result["base"], **{k: v for k, v in result["models"].items() if not k.startswith("ablation:")}}
    for name, res in main.items():
        label = name
        if tuned:
            thresholds = ", ".join(f"{res[t]['tuned']['threshold']:g}" for t in TYPES)
            label = f"{name} @ tuned ({thresholds})"
        for t in TYPES:
            r = res[t]["tuned"] if tuned else res[t]
            c = result["comparisons"].get(name, {}).get(t, {})
            c = c.get("tuned") if tuned else c
            change = _ci(c, pct=True) if c else ""
            ranking = "| |" if tuned else f"| {_ci(res[t]['topk'])} | {_ci(res[t]['pr_auc'])} |"
            lines.append(f"| {label} | {t} | {r['fp']} | {r['fn']} | {r['fp_fn']} | {change} {ranking}")
        c = result["comparisons"].get(name, {}).get("both", {})
        c = c.get("tuned") if tuned else c
        if c:
            total = f"{c['meta_fp_fn']} (base {c['base_fp_fn']})"
            lines.append(f"| {label} | both | | | {total} | {_ci(c, pct=True)} | | |")
    return lines


def markdown(result: dict) -> str:
    """The main table (base vs meta per type, at 0.5 and at tuned thresholds) and the ablation table."""
    lines = ["| model | type | FP | FN | FP+FN | FP+FN change [95% CI] | top-k [95% CI] | PR-AUC [95% CI] |",
             "|---|---|---|---|---|---|---|---|", *_main_rows(result, False), *_main_rows(result, True)]
    lines += ["", "| ablation (sequence-only) | train rows | features | rounds | donor FP+FN change | "
              "acceptor FP+FN change | both FP+FN change [95% CI] | minus default's (paired) [95% CI] | "
              "both, tuned thresholds [95% CI] |", "|---|---|---|---|---|---|---|---|---|"]
    for name, c in result["comparisons"].items():
        if name.startswith("ablation:"):
            f = result["fits"][name]
            tuned = _ci(c["both"]["tuned"], pct=True) if "tuned" in c["both"] else ""
            paired = _ci(c["vs_default"], pct=True) if "vs_default" in c else ""
            lines.append(f"| {name.split(':', 1)[1]} | {f['train_rows']} | {f['features']} | {f['best_iteration']} "
                         f"| {100 * c['donor']['rel_change']:+.1f}% | {100 * c['acceptor']['rel_change']:+.1f}% "
                         f"| {_ci(c['both'], pct=True)} | {paired} | {tuned} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        result = run_regions(args) if args.train_region else run(args)
    except FastbuildError as exc:
        raise SystemExit(f"bench_metamodel: {exc}") from None
    if args.train_region:
        print(f"training regions {', '.join(args.train_region)}; held-out {', '.join(args.test_region)}; "
              f"{args.bootstrap} bootstrap resamples of genes; {result['total_s']} s")
        print(markdown_regions(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
        return result
    sel = result["selection"]
    print(f"split {sel['split']}: genes {sel['genes']} (clusters {sel['clusters']}); "
          f"training rows {result['train_rows']}; {result['eval_positions']} held-out positions; "
          f"{result['bootstrap']} bootstrap resamples of genes; "
          f"{result['total_s']} s")
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    return result


if __name__ == "__main__":
    main()
