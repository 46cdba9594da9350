"""SIGTERM is handled like Ctrl-C (issue: SIGTERM like Ctrl-C).

Slurm (at walltime), Kubernetes and ``timeout`` send SIGTERM first. A ``--jobs 2`` build or
predict that gets it, on its main process only (``timeout``) or on its whole process group
(Slurm, ``kill -TERM -PGID``), must print one line, exit with status 143, leave no worker, no
temporary file and no leaked semaphore behind, and resume when rerun, to an output identical to
an uninterrupted run. Real processes throughout; the signal is sent once the first unit is
finished, so that the rerun resumes and several units are still running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastbuild.builder.validate import validate_dataset
from fastbuild.cli import sigterm_raises
from fastbuild.errors import Terminated
from tests.conftest import SHARED_DATA, need, read_rows

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

REPO = Path(__file__).resolve().parents[1]
MODEL_80 = SHARED_DATA / "openspliceai_models" / "arabidopsis" / "80nt"
TERMINATED = "fastbuild: terminated (SIGTERM); rerun the same command to resume"
HOW = ["main-only", "process-group", "workers-first"]


def build_cmd(out: Path) -> list[str]:
    """The demo build (265 genes, 7 units), on two workers."""
    return [sys.executable, "-m", "fastbuild", "build", "--output-dir", str(out), "--jobs", "2",
            "--batch-size", "40", "--no-progress"]


def predict_cmd(store: Path) -> list[str]:
    """Scoring the demo genes (3 units) with the small real model, on two workers."""
    return [sys.executable, "-m", "fastbuild", "predict", "--model", str(MODEL_80), "--scores", str(store),
            "--jobs", "2", "--no-progress"]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    return {**os.environ, "FASTBUILD_CACHE": str(tmp_path_factory.getbasetemp() / "fastbuild-cache")}


def run(args, env) -> subprocess.CompletedProcess:
    res = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr
    return res


def chunks(store: Path) -> dict:
    """The score chunks of a store, by file name (the name holds the chunk's genes)."""
    import polars as pl

    return {p.name: pl.read_parquet(p) for p in sorted((store / "scores").rglob("*.parquet"))}


def chunks_done(store: Path) -> list[Path]:
    """Finished chunk files (temporary ones end in .tmp)."""
    return list((store / "scores").glob("*/*.parquet"))


def identities(paths) -> dict:
    """Inode and modification time of each file: unchanged when a rerun resumes (keeps) it."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


@pytest.fixture(scope="module")
def build_reference(tmp_path_factory, env):
    out = tmp_path_factory.mktemp("sigterm_build") / "full"
    run(build_cmd(out), env)
    return read_rows(out)


@pytest.fixture(scope="module")
def predict_reference(tmp_path_factory, env):
    need(MODEL_80)
    store = tmp_path_factory.mktemp("sigterm_predict") / "full"
    run(predict_cmd(store), env)
    return chunks(store)


# ---------------------------------------------------------------------- processes


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, ...)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _workers(pid: int) -> list[int]:
    """Live pool workers (spawned children) of ``pid``."""
    out = []
    for d in Path("/proc").iterdir():
        fields = _stat(int(d.name)) if d.name.isdigit() else None
        if fields and int(fields[1]) == pid and fields[0] != "Z":
            try:
                if "spawn_main" in (d / "cmdline").read_text():
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def _session_alive(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``: workers, resource tracker, ..."""
    out = []
    for d in Path("/proc").iterdir():
        fields = _stat(int(d.name)) if d.name.isdigit() else None
        if fields and int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d.name))
    return out


def _start_and_wait(cmd: list[str], env: dict, started) -> tuple[subprocess.Popen, list[int]]:
    """Start ``cmd`` in a session of its own; return once ``started()`` and two workers run."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    workers: list[int] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _workers(proc.pid) or workers
        if len(workers) == 2 and started():
            return proc, workers
        time.sleep(0.01)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"the command ended (status {proc.returncode}) before its work started: {err}")


def _terminate(proc: subprocess.Popen, workers: list[int], how: str) -> str:
    """Send SIGTERM as ``how`` says; return the command's stderr once it ended."""
    if how == "main-only":  # `timeout`, `kill PID`
        os.kill(proc.pid, signal.SIGTERM)
    elif how == "process-group":  # Slurm at walltime, `kill -TERM -PGID`
        os.killpg(proc.pid, signal.SIGTERM)
    else:  # each process signalled in turn, workers first: the pool breaks before the main process hears
        for w in workers:
            os.kill(w, signal.SIGTERM)
        time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    return err


def _assert_terminated(proc: subprocess.Popen, err: str) -> None:
    assert "Traceback" not in err, err
    assert "leaked semaphore" not in err, err
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [TERMINATED]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _session_alive(proc.pid):
        time.sleep(0.05)
    assert not _session_alive(proc.pid), "processes of the command outlived it"


# ---------------------------------------------------------------------- tests


def test_handler_is_installed_only_while_a_command_runs_and_raises_once():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_raises():
        assert signal.getsignal(signal.SIGTERM) is not before
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:  # a second SIGTERM (during the cleanup the first started) raises nothing
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) is before
    assert isinstance(Terminated(), KeyboardInterrupt) and Terminated.exit_code == 128 + signal.SIGTERM


@pytest.mark.parametrize("how", HOW)
def test_sigterm_build_is_one_line_and_resumes(build_reference, env, tmp_path, how):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    proc, workers = _start_and_wait(build_cmd(out), env, lambda: any(out.glob("batch_*_trim.parquet")))
    _assert_terminated(proc, _terminate(proc, workers, how))
    assert not list(out.glob("**/*.tmp")), "a stopped unit left its temporary file"
    finished = list(out.glob("batch_*_trim.parquet"))
    assert 0 < len(finished) < 7 and not (out / "_SUCCESS").exists()
    assert all(pq.read_metadata(f).num_rows > 0 for f in finished)  # whole files only
    kept = identities(finished)
    run(build_cmd(out), env)
    assert identities(finished) == kept, "the rerun should have kept the finished units"
    assert read_rows(out).equals(build_reference)
    assert validate_dataset(out).ok and not list(out.glob("**/*.tmp"))


@pytest.mark.realdata
@pytest.mark.parametrize("how", HOW[:2])
def test_sigterm_predict_is_one_line_and_resumes(predict_reference, env, tmp_path, how):
    store = tmp_path / "scores"
    proc, workers = _start_and_wait(predict_cmd(store), env, lambda: bool(chunks_done(store)))
    _assert_terminated(proc, _terminate(proc, workers, how))
    assert not list(store.glob("**/*.tmp")), "a stopped unit left its temporary file"
    kept = chunks(store)
    assert 0 < len(kept) < len(predict_reference)
    assert all(kept[name].equals(predict_reference[name]) for name in kept)
    files = chunks_done(store)
    before = identities(files)
    run(predict_cmd(store), env)
    assert identities(files) == before, "the rerun should have kept the finished chunks"
    again = chunks(store)
    assert again.keys() == predict_reference.keys()
    assert all(again[name].equals(predict_reference[name]) for name in again)
    assert not list(store.glob("**/*.tmp"))
