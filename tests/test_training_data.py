"""Datasets ready for training: evaluation mode, sampling weights, honest roles, clean encodings,
local sequence codes, grouping columns and a leakage check (on the demo's real scores)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from fastbuild import demo
from fastbuild.builder import build_dataset
from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES, roles_of, sources_of
from fastbuild.genome import Genome

N_GENES = 40


def _build(tmp_path_factory, name, **options):
    out = tmp_path_factory.mktemp(name) / "out"
    build_dataset(output_dir=str(out), n_genes=N_GENES, subset_policy="random", seed=5, kmer_sizes=(3,),
                  batch_rows=4000, progress=False, **options)
    return out


@pytest.fixture(scope="module")
def train_build(tmp_path_factory):
    # pseudogenes kept: the weights are compared with an evaluation build of the same genes (which keeps every type)
    return _build(tmp_path_factory, "train", sequence_flank=3, split="region:test=NC_003070.9:1-350000;train=rest",
                  pseudogenes="keep")


@pytest.fixture(scope="module")
def eval_build(tmp_path_factory):
    return _build(tmp_path_factory, "eval", eval_mode=True)


def _rows(out) -> pl.DataFrame:
    return pl.read_parquet(str(out / "master" / "*.parquet"))


def _counts(df: pl.DataFrame, weight: str | None) -> dict:
    n = pl.col(weight).cast(pl.Float64).sum() if weight else pl.len().cast(pl.Float64)
    g = df.group_by("pred_type", "splice_type").agg(n.alias("n"))
    return {(p, s): n for p, s, n in g.iter_rows()}


def test_eval_mode_keeps_every_position(eval_build):
    info = json.loads((eval_build / "build_info.json").read_text())
    assert info["eval_mode"] is True and info["config"]["eval_mode"] is True
    assert info["rows"] == info["positions_scanned"] > 0
    df = _rows(eval_build)
    assert df.height == info["rows"]
    assert (df["sample_weight"] == 1).all()
    assert pq.read_schema(next((eval_build / "master").iterdir())).metadata[b"fastbuild.mode"] == b"evaluation"
    # one row per gene position: every gene's rows cover its whole length
    per_gene = df.group_by("gene_id").agg(pl.len(), pl.col("gene_length").first())
    assert (per_gene["len"] == per_gene["gene_length"]).all()


def test_weighted_counts_reproduce_the_full_data(train_build, eval_build):
    """Weighted class counts of the downsampled build equal the counts of every position."""
    full, sampled = _rows(eval_build), _rows(train_build)
    assert sampled.height < 0.75 * full.height
    want, got = _counts(full, None), _counts(sampled, "sample_weight")
    assert set(got) <= set(want)
    for key, n in want.items():
        assert got.get(key, 0.0) == pytest.approx(n, rel=1e-5), key
    # per gene too: the weights are exact per gene and stratum
    wg = full.group_by("gene_id").len()
    sg = sampled.group_by("gene_id").agg(pl.col("sample_weight").cast(pl.Float64).sum())
    j = wg.join(sg, on="gene_id")
    np.testing.assert_allclose(j["sample_weight"], j["len"], rtol=1e-5)
    # every gene contributes rows (the easy-negative floor), even one without TP/FP/FN
    assert sg.height == wg.height == N_GENES


def test_roles_sources_and_drop_lists(train_build):
    schema = pq.read_schema(next((train_build / "master").iterdir()))
    roles, sources = roles_of(schema), sources_of(schema)
    for name in ("gene_length", "n_splice_sites", "splice_density_per_kb", "n_transcripts", "relative_position",
                 "num_overlaps", "gene_type", "sequence_length"):
        assert roles[name] == "annotation", name
    for name in ("donor_score", "3mer_AAA", "gc_content", "nt_u3", "nt_0", "nt_d3", "distance_to_predicted_donor"):
        assert roles[name] == "feature", name
    assert roles["sample_weight"] == "weight" and roles["split"] == roles["gene_cluster"] == "group"
    assert sources["donor_score"] == "base_model" and sources["3mer_AAA"] == "sequence"
    drop = json.loads(schema.metadata[b"fastbuild.drop_for_training"])
    drop_annotated = json.loads(schema.metadata[b"fastbuild.drop_for_annotated_training"])
    assert set(drop) - set(drop_annotated) == {n for n, r in roles.items() if r == "annotation"}
    kept = [n for n in schema.names if n not in drop]
    assert {roles[n] for n in kept} == {"feature"}
    # the sequence-available columns go to numpy as they are; the categorical one stays categorical
    df = _rows(train_build)
    x = df.drop(drop).to_numpy()
    assert x.dtype.kind == "f" and x.shape[1] == len(kept)
    pdf = pq.read_table(next((train_build / "master").iterdir())).to_pandas()
    assert str(pdf["gene_type"].dtype) == "category"


def test_no_sentinels_in_distances(train_build):
    df = _rows(train_build)
    for name in ("distance_to_donor", "distance_to_acceptor", "distance_to_predicted_donor",
                 "distance_to_predicted_acceptor"):
        assert df[name].min() >= 0, name
    # a gene without any annotated site has null distances to sites
    no_sites = df.filter(pl.col("n_splice_sites") == 0)
    if no_sites.height:
        assert no_sites["distance_to_donor"].null_count() == no_sites.height


def test_local_sequence_codes(train_build):
    df = _rows(train_build).sample(200, seed=1)
    with Genome(str(demo.demo_fasta())) as genome:
        for r in df.iter_rows(named=True):
            codes = genome.fetch(r["chrom"], r["position"] - 3, r["position"] + 3, "+")
            if r["strand"] == "-":
                codes = codes[::-1]
                codes = np.where(codes < 4, 3 - codes, 4)
            got = [r[n] for n in ("nt_u3", "nt_u2", "nt_u1", "nt_0", "nt_d1", "nt_d2", "nt_d3")]
            assert got == codes.tolist(), r["gene_id"]


def test_split_and_clusters(train_build):
    df = _rows(train_build)
    genes = df.group_by("gene_id").agg(pl.col("split").first(), pl.col("gene_cluster").n_unique(),
                                       pl.col("split").n_unique().alias("n_split"))
    assert (genes["gene_cluster"] == 1).all() and (genes["n_split"] == 1).all()
    assert set(genes["split"]) == {"train", "test"}
    # a cluster never spans two splits
    per_cluster = df.group_by("gene_cluster").agg(pl.col("split").n_unique())
    assert (per_cluster["split"] == 1).all()
    info = json.loads((train_build / "build_info.json").read_text())
    assert sum(info["split"]["genes"].values()) == N_GENES


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of one column (ties count half), folded so that either direction counts."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size)
    s = score[order]
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], s.size]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2
    n_pos, n_neg = positive.sum(), (~positive).sum()
    auc = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return max(auc, 1 - auc)


def test_leakage_check(eval_build):
    """Label and leaky columns give the labels away; no sequence- or annotation-derived column
    tells a base-model hit (TP) from a miss (FN) on its own (only base-model scores may)."""
    df = _rows(eval_build)
    schema = pq.read_schema(next((eval_build / "master").iterdir()))
    roles, sources = roles_of(schema), sources_of(schema)
    site = (df["y"] > 0).to_numpy()
    # leaky: the annotated-site columns separate sites from non-sites perfectly
    assert np.array_equal(df["true_position"].is_not_null().to_numpy(), site)
    near = (df["distance_to_donor"] == 0) | (df["distance_to_acceptor"] == 0)
    assert np.array_equal(near.fill_null(False).to_numpy(), site)
    assert set(PRED_TYPES) >= set(df["pred_type"]) and set(SPLICE_TYPES) >= set(df["splice_type"])
    sites = df.filter(pl.col("pred_type").is_in(["TP", "FN"]))
    hit = (sites["pred_type"] == "TP").to_numpy()
    assert hit.any() and (~hit).any()
    aucs = {}
    for name, role in roles.items():
        if role not in ("feature", "annotation") or sources[name] == "base_model" or name == "gene_type":
            continue
        col = sites[name].cast(pl.Float64).fill_null(-1.0).to_numpy()
        aucs[name] = _auc(col, hit)
    assert max(aucs.values()) < 0.99, sorted(aucs.items(), key=lambda kv: -kv[1])[:5]
    # the base-model scores do separate them (the threshold defines TP vs FN)
    assert _auc(np.maximum(sites["donor_score"], sites["acceptor_score"]).to_numpy(), hit) == 1.0


def test_long_range_score_context(train_build):
    """The long-range sums and maxima equal a direct computation over each gene's scores."""
    from fastbuild.basemodel.store import ScoreStore
    from fastbuild.builder.schema import LONG_CONTEXT_MAX, LONG_CONTEXT_WIDTHS

    df = _rows(train_build)
    from fastbuild.annotation import load_annotation

    ann = load_annotation(demo.demo_annotation())
    some = df.select("gene_id").unique().sort("gene_id").head(3)["gene_id"].to_list()
    wanted = ann.genes.filter(pl.col("gene_id").is_in(some))
    for info, donor, acceptor, _ in ScoreStore(demo.demo_scores()).iter_gene_scores(wanted):
        rows = df.filter(pl.col("gene_id") == info["gene_id"]).sample(50, seed=2, with_replacement=True)
        n = donor.shape[0]
        for r in rows.iter_rows(named=True):
            p = r["rel_position"]
            for t, arr in (("donor", donor), ("acceptor", acceptor)):
                a = np.asarray(arr, np.float64)
                for w in LONG_CONTEXT_WIDTHS:
                    assert r[f"{t}_sum_up{w}"] == pytest.approx(a[max(0, p - w):max(0, p - 2)].sum(), abs=1e-4)
                    assert r[f"{t}_sum_down{w}"] == pytest.approx(a[min(n, p + 3):min(n, p + w + 1)].sum(), abs=1e-4)
                up = a[max(0, p - LONG_CONTEXT_MAX):max(0, p - 2)]
                down = a[min(n, p + 3):min(n, p + LONG_CONTEXT_MAX + 1)]
                assert r[f"{t}_max_up{LONG_CONTEXT_MAX}"] == pytest.approx(max(up.max(initial=0), 0), abs=1e-7)
                assert r[f"{t}_max_down{LONG_CONTEXT_MAX}"] == pytest.approx(max(down.max(initial=0), 0), abs=1e-7)
