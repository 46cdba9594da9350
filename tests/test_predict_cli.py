"""``fastbuild predict`` and ``fastbuild build --model`` with a real (small) OpenSpliceAI model."""

from __future__ import annotations

import json

import pytest

from fastbuild.cli import main
from tests.conftest import SHARED_DATA, need

MODEL80 = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"


@pytest.mark.realdata
def test_predict_then_build(tmp_path, capsys):
    need(MODEL80)
    scores = tmp_path / "scores"
    assert main(["predict", "--model", str(MODEL80), "--scores", str(scores), "--subset-policy", "random",
                 "--n-genes", "4", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["genes_scored"] == 4
    # rerun: nothing left to score (resumable)
    assert main(["predict", "--model", str(MODEL80), "--scores", str(scores), "--subset-policy", "random",
                 "--n-genes", "4", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["genes_scored"] == 0
    out = tmp_path / "out"
    assert main(["build", "--scores", str(scores), "--output-dir", str(out), "--subset-policy", "all",
                 "--no-progress"]) == 0
    assert json.loads((out / "build_info.json").read_text())["genes"] == 4


@pytest.mark.realdata
def test_build_scores_missing_genes_with_model(tmp_path, caplog):
    need(MODEL80)
    ids = tmp_path / "ids.txt"
    ids.write_text("AT1G01010\nAT1G01020\n")
    out = tmp_path / "out"
    assert main(["build", "--scores", str(tmp_path / "new_scores"), "--model", str(MODEL80), "--output-dir", str(out),
                 "--gene-ids-file", str(ids), "--subset-policy", "custom", "--no-progress"]) == 0
    assert "lack scores: running the base model" in caplog.text
    assert json.loads((out / "build_info.json").read_text())["genes"] == 2


def test_predict_needs_model_and_scores(capsys):
    with pytest.raises(SystemExit):
        main(["predict"])
    assert "--model" in capsys.readouterr().err


@pytest.mark.realdata
def test_predict_onnx_backend_matches_numpy(tmp_path, capsys):
    need(MODEL80)
    pytest.importorskip("onnxruntime", reason="onnx backend needs the extra fastbuild-splice[onnx]")
    from fastbuild.basemodel import ScoreStore

    common = ["--model", str(MODEL80), "--subset-policy", "random", "--n-genes", "2", "--no-progress"]
    assert main(["predict", "--scores", str(tmp_path / "a"), *common]) == 0
    assert main(["predict", "--scores", str(tmp_path / "b"), "--backend", "onnx", *common]) == 0
    a, b = ScoreStore(tmp_path / "a").load(), ScoreStore(tmp_path / "b").load()
    assert a["position"].to_list() == b["position"].to_list()
    for col in ("donor", "acceptor", "neither"):
        assert (a[col] - b[col]).abs().max() < 1e-4
