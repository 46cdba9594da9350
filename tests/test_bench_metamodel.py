"""benchmarks/bench_metamodel.py: its metrics on synthetic arrays, and a tiny run on the demo.

The demo run checks that the pipeline works and every number is computed and finite; it sets no
performance threshold (the measured figures are in the README, "Meta-model benchmark").
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import fastbuild_kernels as kernels

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_metamodel", REPO / "benchmarks" / "bench_metamodel.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_metamodel", module)
    spec.loader.exec_module(module)
    return module


bm = _load()


def _naive_ap(score, site):
    """Average precision by its definition over distinct thresholds (sklearn's, unweighted)."""
    score, site = np.asarray(score, float), np.asarray(site, bool)
    ap, prev_recall = 0.0, 0.0
    for t in np.unique(score)[::-1]:
        called = score >= t
        tp = int((called & site).sum())
        recall = tp / site.sum()
        ap += (recall - prev_recall) * tp / called.sum()
        prev_recall = recall
    return ap


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_and_topk_match_their_definitions(seed):
    rng = np.random.default_rng(seed)
    n = 300
    site = rng.random(n) < 0.1
    site[0] = True
    score = np.round(rng.random(n) * 20) / 20 + 0.3 * site  # many ties
    assert bm.average_precision(score, site) == pytest.approx(_naive_ap(score, site))
    distinct = rng.permutation(n).astype(float) + 5 * site
    k = int(site.sum())
    assert bm.topk_accuracy(distinct, site) == pytest.approx(site[np.argsort(-distinct)[:k]].mean())


def test_perfect_and_reversed_rankings():
    site = np.array([0, 1, 0, 1, 0, 0], bool)
    assert bm.average_precision(site * 1.0, site) == 1.0
    assert bm.topk_accuracy(site * 1.0, site) == 1.0
    assert bm.topk_accuracy(1.0 - site, site) == 0.0
    assert math.isnan(bm.average_precision(np.ones(4), np.zeros(4, bool)))


def test_gene_weights_equal_replicated_genes():
    """Counting a gene twice in a resample is the same as concatenating it twice."""
    rng = np.random.default_rng(7)
    gene = np.repeat(np.arange(4), [50, 30, 40, 20])
    site = rng.random(gene.size) < 0.15
    score = np.round(rng.random(gene.size), 2) + 0.2 * site
    w = np.array([2, 0, 1, 3])
    keep = np.concatenate([np.flatnonzero(gene == g).repeat(1) for g in range(4) for _ in range(w[g])])
    got = bm.Ranking.of(score, site, gene).metrics(w)
    want = bm.Ranking.of(score[keep], site[keep], np.zeros(keep.size, np.int64)).metrics()
    assert got == pytest.approx(want)


def test_count_errors_per_type_matches_the_joint_labels():
    rng = np.random.default_rng(3)
    n = 400
    donor = (rng.random(n) ** 8).astype(np.float32)
    acceptor = (rng.random(n) ** 8).astype(np.float32)
    d_sites = np.sort(rng.choice(np.arange(0, n, 2), 12, replace=False))
    a_sites = np.sort(rng.choice(np.arange(1, n, 2), 12, replace=False))
    pred, splice = kernels.label_positions(donor, acceptor, d_sites, a_sites, 0.5, 2)
    tp, fp, fn = bm.count_errors(donor, d_sites)
    assert fn == int(((pred == kernels.labels.FN) & (splice == 1)).sum())
    assert tp == int(((pred == kernels.labels.TP) & (splice == 1)).sum())
    assert fp == int(((donor >= 0.5)[:, None] & (np.abs(np.arange(n)[:, None] - d_sites) > 2).all(1)[:, None]).sum())


def test_bootstrap_interval_and_relative_change():
    boot = bm.bootstrap_weights(10, 300, seed=1)
    assert boot.shape == (300, 10) and (boot.sum(1) == 10).all()
    assert (boot == bm.bootstrap_weights(10, 300, seed=1)).all()
    per_gene_old, per_gene_new = np.full(10, 4), np.full(10, 3)
    draws = bm.relative_change(boot @ per_gene_new, boot @ per_gene_old)
    assert bm.interval(draws) == pytest.approx([-0.25, -0.25])
    assert math.isnan(float(bm.relative_change(1, 0)))


def test_tiny_run_on_the_demo(tmp_path):
    pytest.importorskip("lightgbm")
    out = tmp_path / "metamodel.json"
    result = bm.main(["--n-train", "60", "--n-test", "30", "--rounds", "30", "--early-stopping", "10",
                      "--num-leaves", "15", "--threads", "1", "--sequence-flank", "0",
                      "--variants", "default,flank20,rich_context", "--json", str(out)])
    assert json.loads(out.read_text())["comparisons"].keys() == result["comparisons"].keys()
    assert set(result["models"]) == {"meta_sequence", "meta_all", "ablation:default", "ablation:flank20",
                                     "ablation:rich_context"}
    sel = result["selection"]["genes"]
    assert sel["test"] >= 20 and sel["train"] + sel["valid"] >= 50 and sel["valid"] >= 1
    for name, res in {"base": result["base"], **result["models"]}.items():
        for t in ("donor", "acceptor"):
            r = res[t]
            assert r["sites"] > 0 and r["tp"] + r["fn"] == r["sites"], (name, t)
            assert 0 <= r["topk"]["value"] <= 1 and 0 <= r["pr_auc"]["value"] <= 1, (name, t)
    for name in ("meta_sequence", "meta_all"):
        for t in ("donor", "acceptor", "both"):
            c = result["comparisons"][name][t]
            assert math.isfinite(c["rel_change"]) and all(math.isfinite(x) for x in c["ci95"]), (name, t)
        for t in ("donor", "acceptor"):
            r = result["models"][name][t]
            assert all(math.isfinite(x) for x in r["pr_auc"]["ci95"] + r["topk"]["ci95"]), (name, t)
    n = result["fits"]["ablation:default"]["features"]
    assert result["fits"]["ablation:flank20"]["features"] == n + 41
    assert result["fits"]["ablation:rich_context"]["features"] == n + len(bm.extra_names("rich")) == n + 24
    for name in ("meta_sequence", "meta_all"):  # thresholds tuned on the validation genes
        assert all(result["models"][name][t]["tuned"]["threshold"] in bm.THRESHOLDS for t in ("donor", "acceptor"))
    assert math.isfinite(result["comparisons"]["ablation:flank20"]["vs_default"]["value"])
    assert "| meta_sequence | both |" in bm.markdown(result)


def test_long_range_window_features_match_brute_force():
    rng = np.random.default_rng(11)
    a = rng.random(400).astype(np.float32)
    pos = np.array([0, 1, 2, 3, 49, 50, 51, 199, 350, 396, 397, 398, 399])
    got = bm._window_features(a, pos)
    for i, p in enumerate(pos):
        for w in bm.SUM_WIDTHS:
            assert got[f"sum_down{w}"][i] == pytest.approx(a[p + 3:p + w + 1].sum(), rel=1e-5, abs=1e-5)
            assert got[f"sum_up{w}"][i] == pytest.approx(a[max(0, p - w):max(0, p - 2)].sum(), rel=1e-5, abs=1e-5)
        m = bm.MAX_WIDTH
        assert got[f"max_down{m}"][i] == max([0.0, *a[p + 3:p + m + 1]])
        assert got[f"max_up{m}"][i] == max([0.0, *a[max(0, p - m):max(0, p - 2)]])


# ---------------------------------------------------------------------------- region mode (issue 25)


def test_regions_and_type_groups_parse():
    assert bm.parse_region("arm=NC_1:3,000,000-5,200,000") == ("arm", "NC_1", 3_000_000, 5_200_000)
    assert bm.parse_region("chr2:1-10") == ("chr2:1-10", "chr2", 1, 10)
    assert bm.region_name("both=c:1-5+c:7-9") == "both" and bm.region_name("c:1-5") == "c:1-5"
    for bad in ("arm=chr1", "chr1:10-5", "chr1:0-5"):
        with pytest.raises(bm.FastbuildError):
            bm.parse_region(bad)
    assert [bm.type_group(t) for t in ("protein_coding", "lncRNA", "transcribed_pseudogene", "tRNA", None)] == \
        ["protein_coding", "lncRNA", "pseudogene", "other", "other"]


def test_region_genes_are_wholly_inside_and_regions_join():
    import polars as pl

    genes = pl.DataFrame({"gene_id": ["a", "b", "c"], "chrom": ["C"] * 3, "start": [1, 4, 8], "end": [3, 7, 9],
                          "strand": ["+"] * 3, "scored": [True, True, True]})
    assert bm.region_genes(genes, "C:1-5")["gene_id"].to_list() == ["a"]  # b reaches past 5
    assert bm.region_genes(genes, "x=C:1-5+C:7-9")["gene_id"].to_list() == ["a", "c"]
    with pytest.raises(bm.FastbuildError, match="no gene with scores"):
        bm.region_genes(genes, "D:1-100")


def test_compositions_filter_types_and_weight_pseudogenes():
    import polars as pl

    df = pl.DataFrame({"gene_id": ["p", "q", "l", "s"], "gene_type": ["protein_coding", "pseudogene", "lncRNA",
                                                                       "transcribed_pseudogene"],
                       "sample_weight": [2.0, 4.0, 1.0, 10.0]})
    assert bm.compose(df, "protein_coding")["gene_id"].to_list() == ["p"]
    assert bm.compose(df, "coding_lncrna")["gene_id"].to_list() == ["p", "l"]
    assert bm.compose(df, "all").equals(df)
    assert bm.compose(df, "pseudo_down")["sample_weight"].to_list() == pytest.approx([2.0, 0.4, 1.0, 1.0])


def test_tiny_region_run_on_the_demo(tmp_path):
    """Training genes holding the demo's three pseudogenes, two held-out regions, three compositions."""
    pytest.importorskip("lightgbm")
    c = "NC_003070.9"
    result = bm.main(["--train-region", f"t={c}:300000-460000+{c}:560000-600000",
                      "--test-region", f"a={c}:1-150000", "--test-region", f"b={c}:600001-700000",
                      "--compositions", "default,all,pseudo_down", "--rounds", "15", "--early-stopping", "5",
                      "--num-leaves", "15", "--threads", "1", "--bootstrap", "20", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["trained"].keys() == {"t"}
    models = result["trained"]["t"]["models"]
    assert models["default"]["pseudogene_genes"] == 0 < models["all"]["pseudogene_genes"] <= 3
    assert models["all"]["train_rows"] > models["default"]["train_rows"]
    assert models["pseudo_down"]["train_rows"] == models["all"]["train_rows"]
    assert {m["same_rows_as"] for m in models.values()} == {"default", "all", "pseudo_down"}
    for name in ("a", "b"):
        base = result["base"][name]
        assert sum(g["genes"] for g in base["by_type"].values()) == base["genes"]
        assert sum(g["fp"] for g in base["by_type"].values()) == base["fp"]
        for m in models.values():
            s = m["test"][name]
            assert s["base_fp_fn"] == base["fp"] + base["fn"] and s["meta_fp_fn"] == s["fp"] + s["fn"]
            assert sum(g["fn"] for g in s["by_type"].values()) == s["fn"]
            assert math.isfinite(s["rel_change"]) and set(s["thresholds"]) == {"donor", "acceptor"}
    table = bm.markdown_regions(result)
    assert "| t | all | " in table and "| t | default | b | protein_coding (" in table


def test_overlapping_training_and_held_out_regions_are_refused():
    c = "NC_003070.9"
    with pytest.raises(SystemExit, match="share genes"):
        bm.main(["--train-region", f"{c}:1-300000", "--test-region", f"{c}:200000-400000", "--threads", "1"])
