"""Scoring a 2-Mb gene stays under 2 GB peak memory (measured in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
import numpy as np
from bm_helpers import random_state_dict, random_codes
from fastbuild.basemodel.models import network_from_state_dict
from fastbuild.basemodel import score_sequence
net = network_from_state_dict(random_state_dict(16, seed=1), eps=1e-5, negative_slope=0.1)
codes = random_codes({n} + 2 * net.flank, seed=2)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
out = score_sequence([net], codes)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_mb": peak / 1024, "before_mb": base / 1024, "seconds": dt, "rows": len(out)}}))
"""


@pytest.mark.slow
def test_two_megabase_gene_under_2gb():
    n = 2_000_000
    script = SCRIPT.format(here=str(HERE), n=n)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    print(info)
    assert info["rows"] == n
    assert info["peak_mb"] < 2048
