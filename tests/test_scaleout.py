"""Plan, units and finalise: job-array mode, kills at random points, local pools (issue: scale-out).

Real processes throughout: units run as separate ``python -m fastbuild`` processes, kills are
SIGKILLs of real processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastbuild.builder import build_dataset
from fastbuild.builder.engine import BuildResult
from fastbuild.builder.validate import validate_dataset
from fastbuild.errors import FastbuildError
from tests.conftest import read_rows

REPO = Path(__file__).resolve().parents[1]
N_GENES, BATCH = 24, 3  # 8 units


@pytest.fixture(scope="module")
def reference_rows(fake_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=N_GENES, batch_size=BATCH, progress=False)
    return read_rows(out)


def cli(store, out, *extra) -> list[str]:
    return [sys.executable, "-m", "fastbuild", "build", "--scores", store, "--output-dir", str(out),
            "--n-genes", str(N_GENES), "--batch-size", str(BATCH), "--no-progress", *extra]


def run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)


def test_job_array_shuffled_units_one_killed_then_finalise(fake_store, reference_rows, tmp_path):
    out = tmp_path / "array"
    plan = run(cli(fake_store, out, "--plan-only"))
    assert plan.returncode == 0, plan.stderr
    assert "plan: 8 units" in plan.stdout
    recorded = json.loads((out / "plan.json").read_text())
    assert [u["index"] for u in recorded["units"]] == list(range(1, 9)) and recorded["hash"]
    order = list(range(1, 9))
    random.Random(7).shuffle(order)
    victim = order[2]
    procs = [subprocess.Popen(cli(fake_store, out, "--unit", str(j)), cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for j in order[:4]]
    procs[2].send_signal(signal.SIGKILL)  # unit `victim` dies (at whatever point it reached)
    for p in procs:
        p.communicate(timeout=300)
    for j in order[4:]:
        assert run(cli(fake_store, out, "--unit", str(j))).returncode == 0
    if (out / f"batch_{victim:05d}_trim.parquet").exists():  # it may have finished before the kill landed
        (out / f"batch_{victim:05d}_trim.parquet").unlink()
    refused = run(cli(fake_store, out, "--finalise"))
    assert refused.returncode == 2 and f"unit {victim} (batch_{victim:05d}_trim.parquet): missing" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert not (out / "master").exists() and not (out / "_SUCCESS").exists()
    assert run(cli(fake_store, out, "--unit", str(victim))).returncode == 0
    again = run(cli(fake_store, out, "--unit", str(victim)))
    assert "already finished" in again.stdout
    fin = run(cli(fake_store, out, "--finalise"))
    assert fin.returncode == 0, fin.stderr
    assert read_rows(out).equals(reference_rows)
    assert validate_dataset(out).ok


def test_unit_needs_the_same_plan(fake_store, tmp_path):
    out = tmp_path / "p"
    assert run(cli(fake_store, out, "--unit", "1")).stderr.count("holds no plan") == 1
    assert run(cli(fake_store, out, "--plan-only")).returncode == 0
    other = run(cli(fake_store, out, "--unit", "1", "--kmer-sizes", "2"))
    assert other.returncode == 2 and "kmer_sizes: [3] -> [2]" in other.stderr
    beyond = run(cli(fake_store, out, "--unit", "9"))
    assert beyond.returncode == 2 and "--unit must be within 1..8" in beyond.stderr


def test_killed_builds_never_look_finished(fake_store, reference_rows, tmp_path):
    out = tmp_path / "kill"
    rng = random.Random(11)
    for _ in range(10):
        proc = subprocess.Popen(cli(fake_store, out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (out / "_SUCCESS").exists():  # it finished before the kill: start over for the next round
            assert read_rows(out).equals(reference_rows)
            for p in out.glob("batch_*"):
                p.unlink()
            (out / "_SUCCESS").unlink()
            continue
        rep = validate_dataset(out)
        assert not rep.ok
        assert "unfinished" in rep.text() or "holds no" in rep.text() or "not a finished" in rep.text()
        with pytest.raises(FastbuildError, match=r"unfinished|not a finished"):
            BuildResult({}, out).to_polars()
        if (out / "plan.json").exists():
            assert not (out / "master").exists() or not (out / "_SUCCESS").exists()
    done = run(cli(fake_store, out))
    assert done.returncode == 0, done.stderr
    assert read_rows(out).equals(reference_rows)
    assert validate_dataset(out).ok


def test_local_pool_progress_per_gene_and_identical_rows(fake_store, reference_rows, tmp_path):
    out = tmp_path / "pool"
    res = run([a for a in cli(fake_store, out, "--jobs", "2") if a != "--no-progress"])
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("genes:")]
    assert lines and lines[-1].startswith(f"genes: {N_GENES}/{N_GENES}")
    assert read_rows(out).equals(reference_rows)


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkilled_parent_leaves_no_worker_behind(fake_store, reference_rows, tmp_path):
    out = tmp_path / "orphans"
    proc = subprocess.Popen(cli(fake_store, out, "--jobs", "2", "--batch-rows", "1000"), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("batch_*_trim.parquet")):
        workers = [c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()] or workers
        time.sleep(0.05)
    assert workers, "the build should have started worker processes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "workers outlived their killed parent"
    done = run(cli(fake_store, out, "--jobs", "2", "--batch-rows", "1000"))
    assert done.returncode == 0, done.stderr
    assert read_rows(out).equals(reference_rows)


def test_dead_worker_is_one_line_and_resumable(fake_store, reference_rows, tmp_path):
    out = tmp_path / "dead"
    proc = subprocess.Popen(cli(fake_store, out, "--jobs", "2", "--batch-rows", "1000"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.time() + 120
    while time.time() < deadline and victim is None:
        kids = [c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        victim = kids[0] if len(kids) >= 2 else None
        time.sleep(0.05)
    time.sleep(1.0)
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the build finished before the worker was killed")
    assert proc.returncode == 2, err
    assert "worker process died" in err and "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.startswith("fastbuild: error")]) == 1, err
    assert run(cli(fake_store, out, "--jobs", "2", "--batch-rows", "1000")).returncode == 0
    assert read_rows(out).equals(reference_rows)


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT's default action, so that Python installs its Ctrl-C handler (a test run
    started in the background by a shell without job control inherits SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_with_jobs_is_one_line(fake_store, tmp_path):
    out = tmp_path / "int"
    proc = subprocess.Popen(cli(fake_store, out, "--jobs", "2", "--batch-rows", "1000"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline and len(_children(proc.pid)) < 2:
        time.sleep(0.05)
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the build finished before Ctrl-C")
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["fastbuild: interrupted; rerun the same command to resume"]
