"""The embedded demo: real Arabidopsis slice, real OpenSpliceAI scores, end to end."""

from __future__ import annotations

import json

import polars as pl
import pytest

from fastbuild import demo
from fastbuild.cli import main


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory):
    if not (demo.demo_scores() / "store.json").is_file():
        pytest.fail("the embedded demo scores are missing (scripts/make_demo_scores.py regenerates them)")
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["build", "--output-dir", str(out), "--no-progress"]) == 0
    return out


def test_demo_build_and_validate(demo_build, capsys):
    assert main(["validate", str(demo_build)]) == 0
    assert "dataset is valid" in capsys.readouterr().out
    info = json.loads((demo_build / "build_info.json").read_text())
    assert info["genes"] > 200
    counts = info["counts"]["pred_type"]
    # a real model: mostly hits, some misses and false calls
    assert counts["TP"] > 5 * counts["FN"] > 0 and counts["FP"] > 0


def test_demo_rows_read_back(demo_build):
    df = pl.scan_parquet(str(demo_build / "master" / "*.parquet"))
    summary = df.group_by("pred_type").agg(pl.len(), pl.col("donor_score").max()).collect()
    assert set(summary["pred_type"]) == {"TP", "FP", "FN", "TN"}
    sites = df.filter(pl.col("splice_type") != "neither").select("y", "splice_type").collect()
    assert ((sites["splice_type"] == "donor") == (sites["y"] == 1)).all()
