"""The Dask executor on a real ``distributed.LocalCluster`` with 2 worker processes (no mocks).

Skipped when the optional extra ``fastbuild-splice[dask]`` is not installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from fastbuild import demo
from fastbuild.annotation import load_annotation
from fastbuild.basemodel.scoring import score_genes
from fastbuild.basemodel.store import ScoreStore
from fastbuild.builder import build_dataset
from fastbuild.builder.validate import validate_dataset
from tests.conftest import ATH_FASTA, ROW_KEY, SHARED_DATA, need, read_rows

distributed = pytest.importorskip("distributed", reason="optional extra fastbuild-splice[dask] not installed")

REPO = Path(__file__).resolve().parents[1]
MODEL_80 = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"


@pytest.fixture(scope="module")
def client():
    import dask

    # Dask's nannies start workers with OPENBLAS_NUM_THREADS=1 (and OMP/MKL); OpenBLAS started
    # that way rounds some float32 sums 1 ulp differently from one started with more threads, so
    # the workers here get this process's environment, as local worker processes do.
    environ = {"MALLOC_TRIM_THRESHOLD_": 65536}
    with (dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40) as cluster,
          distributed.Client(cluster) as c):
        yield c


def test_build_on_local_cluster_matches_jobs_1(client, fake_store, tmp_path):
    opts = {"scores": fake_store, "n_genes": 30, "batch_size": 4, "progress": False}
    build_dataset(output_dir=str(tmp_path / "local"), **opts)
    res = build_dataset(output_dir=str(tmp_path / "dask"), client=client, **opts)
    assert res.info["batches"] == 8
    assert read_rows(tmp_path / "dask").equals(read_rows(tmp_path / "local"))
    assert validate_dataset(tmp_path / "dask").ok


def test_cli_connects_to_the_scheduler(client, fake_store, tmp_path):
    args = [sys.executable, "-m", "fastbuild", "build", "--scores", fake_store, "--n-genes", "8", "--batch-size", "3",
            "--no-progress"]
    local = subprocess.run([*args, "--output-dir", str(tmp_path / "l")], cwd=REPO, capture_output=True, text=True)
    assert local.returncode == 0, local.stderr
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": client.scheduler.address}
    res = subprocess.run([*args, "--output-dir", str(tmp_path / "d")], cwd=REPO, capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0, res.stderr
    assert "DASK_SCHEDULER_ADDRESS" in res.stderr
    assert read_rows(tmp_path / "d").equals(read_rows(tmp_path / "l"))
    bad = subprocess.run([*args, "--output-dir", str(tmp_path / "x"), "--dask-scheduler", "tcp://127.0.0.1:1"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "cannot connect to the Dask scheduler at tcp://127.0.0.1:1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_killed_worker_retried_rows_identical(client, fake_store, tmp_path):
    opts = {"scores": fake_store, "n_genes": 40, "batch_size": 2, "batch_rows": 1000, "progress": False}
    build_dataset(output_dir=str(tmp_path / "local"), **opts)
    out = tmp_path / "dask"
    errors = []

    def go():
        try:
            build_dataset(output_dir=str(out), client=client, **opts)
        except BaseException as exc:  # reported below
            errors.append(exc)

    t = threading.Thread(target=go)
    t.start()
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("batch_*_trim.parquet")):
        time.sleep(0.02)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=300)
    assert not t.is_alive() and not errors, errors
    assert len(list(out.glob("batch_*_trim.parquet"))) == 20
    got = read_rows(out)
    assert got.select(ROW_KEY).is_duplicated().sum() == 0
    assert got.equals(read_rows(tmp_path / "local"))
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker


def test_predict_on_local_cluster_matches_in_process(client, tmp_path):
    need(MODEL_80)
    ann = load_annotation(demo.demo_annotation())
    genes = ann.genes.sort("start").head(12)
    fasta = str(demo.demo_fasta())
    score_genes(fasta, genes, str(MODEL_80), tmp_path / "here", progress=False, chunk_genes=3, threads=1)
    res = score_genes(fasta, genes, str(MODEL_80), tmp_path / "there", progress=False, chunk_genes=3, threads=1,
                      client=client)
    assert res["chunks"] == 4 and res["chunks_written"] == 4
    a, b = ScoreStore(tmp_path / "here").load(), ScoreStore(tmp_path / "there").load()
    assert a.height > 0 and a.equals(b)


@pytest.mark.realdata
def test_real_data_subset_on_local_cluster(client, ath_reference, tmp_path):
    need(MODEL_80, ATH_FASTA)
    ref, _ = ath_reference
    genes = pl.read_parquet(ref / "genes.parquet").sort("start").slice(200, 10)
    store = tmp_path / "scores"
    score_genes(str(ATH_FASTA), genes, str(MODEL_80), store, progress=False, chunk_genes=4, client=client)
    opts = {"reference": str(ref), "scores": str(store), "subset_policy": "all", "n_genes": 10, "batch_size": 3,
            "progress": False}
    build_dataset(output_dir=str(tmp_path / "local"), **opts)
    build_dataset(output_dir=str(tmp_path / "dask"), client=client, **opts)
    assert read_rows(tmp_path / "dask").equals(read_rows(tmp_path / "local"))


def test_units_on_a_worker_share_its_cpus_among_its_threads(client):
    """A Dask worker runs one unit per thread: the writer threads of each come from CPUs / threads."""
    from fastbuild.builder.batch import units_at_once

    assert units_at_once(1) == 1  # not on a worker
    assert client.submit(units_at_once, 1, pure=False).result() == 1  # threads_per_worker=1
    assert client.submit(units_at_once, 4, pure=False).result() == 4
    with (distributed.LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=":0",
                                   silence_logs=40) as cluster, distributed.Client(cluster) as c3):
        assert c3.submit(units_at_once, 1, pure=False).result() == 3
