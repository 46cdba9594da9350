"""Stage timings of a build: per batch in its statistics, summed into build_info.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastbuild.builder import build_dataset
from fastbuild.builder.stats import STAGES, BatchStats, GeneTally, stage_timings


def _stats(index: int, rows: int, seconds: float, stages: tuple) -> BatchStats:
    tally = GeneTally(positions=2 * rows, rows=rows)
    tally.seconds.update(zip(STAGES, stages, strict=True))
    return BatchStats.collect(index, "h", [("g", tally)], seconds)


def test_batch_stats_carry_stage_seconds_through_json():
    st = _stats(1, 1000, 1.0, (0.1, 0.2, 0.3, 0.25))
    assert st.stage_seconds == (0.1, 0.2, 0.3, 0.25)
    assert BatchStats.from_json(st.to_json()) == st
    assert json.loads(st.to_json())["stage_seconds"] == dict(zip(STAGES, st.stage_seconds, strict=True))
    extra = BatchStats.collect(1, "h", [("g", GeneTally())], 1.0, {"write": 0.5})
    assert extra.stage_seconds == (0.0, 0.0, 0.0, 0.5)
    # a batch file written before stage timings: none, and not counted
    old = json.loads(st.to_json())
    del old["stage_seconds"]
    legacy = BatchStats.from_json(json.dumps(old))
    assert legacy.stage_seconds == ()
    summed = stage_timings([st, _stats(2, 3000, 2.0, (0.2, 0.2, 0.2, 0.2)), legacy])
    assert summed["batches"] == 2 and summed["rows"] == 4000
    assert summed["seconds"]["featurise"] == pytest.approx(0.5)
    assert summed["seconds"]["other"] == pytest.approx(3.0 - 1.65)
    assert summed["us_per_row"]["read"] == pytest.approx(0.3e6 / 4000)
    assert summed["us_per_row"]["total"] == pytest.approx(3e6 / 4000)
    assert stage_timings([legacy])["us_per_row"]["read"] is None


def test_build_info_has_stage_timings(fake_store):
    res = build_dataset(scores=fake_store, output_dir=None, n_genes=12, batch_size=5, progress=False)
    st = res.info["stage_timings"]
    assert st["batches"] == res.info["batches"] == 3 and st["rows"] == res.info["rows"] > 0
    assert list(st["us_per_row"]) == [*STAGES, "other", "total"]
    assert all(st["seconds"][s] > 0 for s in STAGES)
    parts = sum(st["seconds"][s] for s in (*STAGES, "other"))
    assert np.isclose(parts, st["seconds"]["total"], atol=0.01)
