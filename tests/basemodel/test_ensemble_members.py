"""An ensemble with byte-identical members loads, with a warning naming the copies."""

from __future__ import annotations

import logging
import shutil

from tests.conftest import SHARED_DATA, need

MODELS = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"


def test_duplicate_members_warn(tmp_path, caplog):
    need(MODELS / "model_80nt_rs10.pt", MODELS / "model_80nt_rs11.pt")
    from fastbuild.basemodel.models import load_model

    for name in ("model_80nt_rs10.pt", "model_80nt_rs11.pt"):
        shutil.copy(MODELS / name, tmp_path / name)
    shutil.copy(MODELS / "model_80nt_rs10.pt", tmp_path / "model_80nt_rs12.pt")
    with caplog.at_level(logging.WARNING, logger="fastbuild.basemodel.models"):
        model = load_model(str(tmp_path))
    assert len(model.spec.files) == 3
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "byte-identical" in msg and "model_80nt_rs12.pt" in msg and "2 distinct models of 3" in msg
    caplog.clear()
    (tmp_path / "model_80nt_rs12.pt").unlink()
    with caplog.at_level(logging.WARNING, logger="fastbuild.basemodel.models"):
        load_model(str(tmp_path))
    assert "byte-identical" not in " ".join(r.getMessage() for r in caplog.records)
