"""Numeric options at extreme values: refused with one line naming the option, or handled right.

Every bad-input kind tested here has an id in :data:`BAD_INPUTS`; each id is one parametrized
case (``pytest tests/test_bad_options.py -k easy-ratio-nan``).
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels
from fastbuild import build_dataset
from fastbuild.basemodel.backends import make_runner
from fastbuild.basemodel.runner import MAX_THREADS, Runner, check_threads
from fastbuild.builder.config import MAX_BATCH_ROWS, MAX_CONTEXT, MIN_BATCH_ROWS, BuildConfig
from fastbuild.checks import INT64_MAX
from fastbuild.cli import main
from fastbuild.errors import FastbuildError
from fastbuild_kernels.kmers import MAX_DENSE_ENTRIES
from tests.conftest import SHARED_DATA, need

BIG = "99999999999999999999"  # > 2**64

#: command-line arguments of ``fastbuild build`` -> the option the one-line error must name
CLI_CASES = {
    "easy-ratio-nan": (["--easy-ratio", "nan"], "--easy-ratio"),
    "easy-ratio-inf": (["--easy-ratio", "inf"], "--easy-ratio"),
    "easy-ratio-negative": (["--easy-ratio", "-0.5"], "--easy-ratio"),
    "hard-prob-nan": (["--hard-prob", "nan"], "--hard-prob"),
    "hard-prob-above-one": (["--hard-prob", "1.5"], "--hard-prob"),
    "threshold-nan": (["--threshold", "nan"], "--threshold"),
    "threshold-minus-inf": (["--threshold=-inf"], "--threshold"),
    "context-flank-too-large": (["--context-flank", "65535", "0"], "--context-flank"),
    "context-flank-sum-too-large": (["--context-flank", "40000", "30000"], "--context-flank"),
    "context-flank-negative": (["--context-flank", "-1", "10"], "--context-flank"),
    "window-negative": (["--window", "-1"], "--window"),
    "window-beyond-int64": (["--window", BIG], "--window"),
    "consensus-window-negative": (["--consensus-window", "-3"], "--consensus-window"),
    "consensus-window-beyond-int64": (["--consensus-window", BIG], "--consensus-window"),
    "batch-size-beyond-int64": (["--batch-size", BIG], "--batch-size"),
    "batch-rows-too-small": (["--batch-rows", "1"], "--batch-rows"),
    "batch-rows-below-floor": (["--batch-rows", str(MIN_BATCH_ROWS - 1)], "--batch-rows"),
    "batch-rows-too-large": (["--batch-rows", str(MAX_BATCH_ROWS + 1)], "--batch-rows"),
    "batch-rows-too-large-for-wide-6mers": (
        ["--kmer-sizes", "6", "--kmer-layout", "wide", "--batch-rows", str(MAX_DENSE_ENTRIES // 4**6 + 1)],
        "--batch-rows",
    ),
    "batch-rows-too-large-for-sparse-8mers": (
        ["--kmer-sizes", "8", "--batch-rows", str((2**31 - 1) // 493 + 1)],
        "--batch-rows",
    ),
    "kmer-size-too-large": (["--kmer-sizes", "13"], "--kmer-sizes"),
    "jobs-beyond-int64": (["--jobs", BIG], "--jobs"),
    "n-genes-beyond-int64": (["--n-genes", BIG], "--n-genes"),
}

#: the reported defects, also run through a real ``python -m fastbuild`` process
SUBPROCESS_IDS = ["easy-ratio-nan", "easy-ratio-inf", "context-flank-too-large", "batch-rows-too-small",
                  "window-beyond-int64"]

#: Python-API values the command line cannot produce -> the option named
API_CASES = {
    "easy-ratio-string": ({"easy_ratio": "0.5"}, "--easy-ratio"),
    "easy-ratio-bool": ({"easy_ratio": True}, "--easy-ratio"),
    "threshold-none": ({"threshold": None}, "--threshold"),
    "window-float": ({"window": 7.5}, "--window"),
    "batch-rows-float": ({"batch_rows": 20000.0}, "--batch-rows"),
    "kmer-size-float": ({"kmer_sizes": (3.0,)}, "--kmer-sizes"),
    "kmer-sizes-not-a-sequence": ({"kmer_sizes": 3}, "--kmer-sizes"),
    "context-flank-three-numbers": ({"context_flank": (1, 2, 3)}, "--context-flank"),
    "context-flank-float": ({"context_flank": (250.5, 249)}, "--context-flank"),
}

#: thread counts for a base-model runner -> the message
THREAD_CASES = {
    "threads-negative": (-1, "--threads must be >= 1, got -1"),
    "threads-zero": (0, "--threads must be >= 1, got 0"),
    "threads-too-many": (MAX_THREADS + 1, f"--threads must be <= {MAX_THREADS}, got {MAX_THREADS + 1}"),
    "threads-float": (2.5, "--threads must be a whole number, got 2.5"),
}

BAD_INPUTS = [*CLI_CASES, *API_CASES, *THREAD_CASES, "predict-threads-negative-cli"]


def _build_args(tmp_path, extra):
    return ["build", "--n-genes", "2", "--output-dir", str(tmp_path / "out"), "--no-progress", *extra]


@pytest.mark.parametrize(("args", "option"), list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_cli_refuses_with_one_line(args, option, tmp_path, capsys):
    assert main(_build_args(tmp_path, args)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fastbuild: error: ") and option in lines[0]
    assert not (tmp_path / "out").exists()  # refused before anything is written


@pytest.mark.parametrize(("args", "option"), [CLI_CASES[i] for i in SUBPROCESS_IDS], ids=SUBPROCESS_IDS)
def test_cli_process_refuses_without_traceback(args, option, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastbuild", *_build_args(tmp_path, args)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], proc.stderr


@pytest.mark.parametrize(("options", "option"), list(API_CASES.values()), ids=list(API_CASES))
def test_api_refuses_with_one_line(options, option):
    with pytest.raises(FastbuildError) as info:
        BuildConfig.from_options(**options)
    message = str(info.value)
    assert option in message and "\n" not in message


@pytest.mark.parametrize(("threads", "message"), list(THREAD_CASES.values()), ids=list(THREAD_CASES))
def test_thread_count_is_checked_where_runners_are_made(threads, message):
    with pytest.raises(FastbuildError, match=f"^{re.escape(message)}$"):
        check_threads(threads)
    # before the runner's constructor runs: no pool is made, and the count wins over "no networks"
    with pytest.raises(FastbuildError, match=f"^{re.escape(message)}$"):
        make_runner([], "numpy", threads)


def test_runner_threads_attribute_is_checked():
    class Fake(Runner):
        def __init__(self, threads=None):
            self.threads = threads or 1

        def score_sequence(self, codes_with_flank):
            return np.zeros((0, 3), np.float32)

        def close(self):
            pass

    assert Fake().threads == 1 and Fake(threads=3).threads == 3
    runner = Fake()
    with pytest.raises(FastbuildError, match="--threads must be >= 1, got -2"):
        runner.threads = -2
    assert check_threads(None) is None


@pytest.mark.realdata
@pytest.mark.parametrize("case", ["predict-threads-negative-cli"], ids=["predict-threads-negative-cli"])
def test_predict_threads_negative_cli(case, tmp_path):
    model = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"
    need(model)
    proc = subprocess.run([sys.executable, "-m", "fastbuild", "predict", "--model", str(model), "--scores",
                           str(tmp_path / "scores"), "--n-genes", "1", "--subset-policy", "random", "--threads", "-1",
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["fastbuild: error: --threads must be >= 1, got -1"]


def test_all_bad_inputs_are_cases():
    assert len(BAD_INPUTS) == len(set(BAD_INPUTS))
    assert set(SUBPROCESS_IDS) <= set(CLI_CASES)


# ---------------------------------------------------------------- values at the limits still work
def test_limits_are_those_of_the_kernels():
    codes = kernels.encode(b"ACGT" * 20000)
    kernels.gc_content(codes, [40000], MAX_CONTEXT, 0)  # UP + DOWN = MAX_CONTEXT: a 65535-nt window
    kernels.kmer_counts(codes, 1, [40000], 0, MAX_CONTEXT)
    with pytest.raises(ValueError, match="window too long"):
        kernels.gc_content(codes, [40000], MAX_CONTEXT + 1, 0)
    BuildConfig(context_flank=(MAX_CONTEXT, 0))
    BuildConfig(context_flank=(0, MAX_CONTEXT))
    # wide 6-mers: the largest accepted batch is the largest dense output the kernel makes
    cap = MAX_DENSE_ENTRIES // 4**6
    BuildConfig(kmer_sizes=(6,), kmer_layout="wide", batch_rows=cap)
    with pytest.raises(ValueError, match="dense output"):
        kernels.kmer_counts(codes, 6, np.zeros(cap + 1, np.int64))
    BuildConfig(batch_rows=MIN_BATCH_ROWS)
    BuildConfig(window=INT64_MAX, consensus_window=INT64_MAX, batch_size=INT64_MAX, easy_ratio=1e300)


def test_extreme_but_valid_values_build():
    res = build_dataset(n_genes=2, output_dir=None, progress=False, window=INT64_MAX, consensus_window=INT64_MAX,
                        batch_size=INT64_MAX, context_flank=(MAX_CONTEXT, 0), kmer_sizes=(1,))
    df = res.to_polars()
    assert df.height == res.info["rows"] > 0
    assert int(df["sequence_length"].max()) <= MAX_CONTEXT + 1
    # an unbounded --window keeps every position of a gene with annotated sites
    per_gene = df.group_by("gene_id").agg(pl.len(), pl.col("gene_length").first(), pl.col("n_splice_sites").first())
    with_sites = per_gene.filter(pl.col("n_splice_sites") > 0)
    assert with_sites.height and (with_sites["len"] == with_sites["gene_length"]).all()


def test_huge_easy_ratio_keeps_every_easy_negative():
    rows = {}
    for ratio in (1.0, 1e20, 1e300):
        res = build_dataset(n_genes=2, output_dir=None, progress=False, easy_ratio=ratio)
        rows[ratio] = res.to_polars().height
        positions = res.info["positions_scanned"]
    assert rows[1e20] >= rows[1.0]
    assert rows[1e20] == rows[1e300] == positions  # all easy negatives (and everything else) kept


# ---------------------------------------------------------------- the downsampling kernel saturates
def _naive():
    mod = sys.modules.get("kernels_naive")  # loaded by tests/kernels/conftest.py when that runs too
    if mod is None:
        spec = importlib.util.spec_from_file_location("kernels_naive", Path(__file__).parent / "kernels" / "naive.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["kernels_naive"] = mod
        spec.loader.exec_module(mod)
    return mod


HUGE = st.one_of(st.sampled_from([1e20, 1e300, sys.float_info.max, math.inf, 2.0**63, 2.0**64]),
                 st.floats(min_value=1e3, allow_nan=False, allow_infinity=True))


@st.composite
def _labels(draw):
    n = draw(st.integers(0, 60))
    pred = np.array(draw(st.lists(st.sampled_from([0, 0, 0, 1, 2, 3]), min_size=n, max_size=n)), np.int8)
    mp = np.array(draw(st.lists(st.sampled_from([0.0, 0.1, 0.5]), min_size=n, max_size=n)), np.float32)
    dist = np.array(draw(st.lists(st.integers(-1, 150), min_size=n, max_size=n)), np.int64)
    return pred, mp, dist


@settings(max_examples=60, deadline=None)
@given(_labels(), HUGE, st.integers(0, 2**64 - 1))
def test_downsample_huge_ratio_keeps_all_easy(case, ratio, seed):
    pred, mp, dist = case
    keep = kernels.downsample_mask(pred, mp, dist, easy_ratio=ratio, seed=seed)
    np.testing.assert_array_equal(keep, _naive().downsample_mask(pred, mp, dist, easy_ratio=ratio, seed=seed))
    easy = (pred == 0) & (mp < 0.15) & ~((dist >= 0) & (dist <= 75))
    n_easy_kept = int(keep[easy].sum())
    # ratio x (number of non-TNs) >= 1e3 x 1 > 60 candidates: all of them, or none without a non-TN
    assert n_easy_kept == (int(easy.sum()) if (pred != 0).any() else 0)
    assert keep[~easy].all()


@pytest.mark.parametrize("ratio", [1e20, 2.0**63, sys.float_info.max, math.inf],
                         ids=["1e20", "2**63", "float-max", "inf"])
def test_downsample_saturates_instead_of_overflowing(ratio):
    n = 5000
    pred = np.zeros(n, np.int8)
    pred[:3] = 1  # float max x 3 overflows to inf; 1e20 x 3 overflowed int64 before
    mp = np.zeros(n, np.float32)
    dist = np.full(n, -1, np.int64)
    assert kernels.downsample_mask(pred, mp, dist, easy_ratio=ratio).all()
    # exactly at and just below the number of candidates
    left = n - 3
    assert kernels.downsample_mask(pred, mp, dist, easy_ratio=left / 3).sum() == n
    assert kernels.downsample_mask(pred, mp, dist, easy_ratio=(left - 0.5) / 3).sum() == n - 1
    # no non-TN row: nothing to sample for, however large the ratio (inf x 0 is no NaN here)
    assert not kernels.downsample_mask(np.zeros(n, np.int8), mp, dist, easy_ratio=ratio).any()


def test_downsample_nan_ratio_and_huge_window():
    pred, mp, dist = np.array([1, 0, 0], np.int8), np.zeros(3), np.array([-1, 5, 2**62], np.int64)
    with pytest.raises(ValueError, match="easy_ratio"):
        kernels.downsample_mask(pred, mp, dist, easy_ratio=math.nan)
    # windows beyond int64 behave as the largest int64 window (every distance inside), not an error
    for window in (2**63 - 1, 2**70):
        assert kernels.downsample_mask(pred, mp, dist, window=window, easy_ratio=0).all()
    assert kernels.downsample_mask(pred, mp, dist, window=-(2**70), easy_ratio=0).tolist() == [True, False, False]
