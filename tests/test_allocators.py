"""Allocator settings of build processes (fastbuild.builder.allocators): only on request, once,
leaving a user's own allocator choice alone; a build under them writes the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import read_rows

PROBE = """
import json, os, sys
from fastbuild.builder import allocators
first = allocators.tune_once()
again = allocators.tune_once()
import pyarrow as pa
print(json.dumps({"first": first, "again": again, "pool": pa.default_memory_pool().backend_name}))
"""


def _probe(**env) -> dict:
    base = {k: v for k, v in os.environ.items()
            if k not in ("FASTBUILD_TUNE_ALLOCATORS", "ARROW_DEFAULT_MEMORY_POOL", "MALLOC_MMAP_THRESHOLD_")}
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**base, **env},
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_nothing_changes_unless_asked():
    got = _probe()
    assert got["first"] == {} and got["again"] == {}
    assert got["pool"] == _probe(ARROW_DEFAULT_MEMORY_POOL="mimalloc")["pool"]  # pyarrow's own default


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_asked_for_glibc_thresholds_and_arrow_jemalloc_once():
    import pyarrow as pa

    got = _probe(FASTBUILD_TUNE_ALLOCATORS="1")
    assert got["first"] == got["again"] and got["first"]["glibc"] is True
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    assert got["first"]["arrow_pool"] == got["pool"] == "jemalloc"


def test_a_users_own_choice_is_left_alone():
    got = _probe(FASTBUILD_TUNE_ALLOCATORS="1", ARROW_DEFAULT_MEMORY_POOL="system", MALLOC_MMAP_THRESHOLD_="131072")
    assert got["first"] == {"glibc": False, "arrow_pool": "system"} and got["pool"] == "system"


def test_a_tuned_build_writes_the_same_rows(tmp_path):
    """The command line tunes (FASTBUILD_TUNE_ALLOCATORS=1 for itself and its workers); rows identical."""
    env = {k: v for k, v in os.environ.items() if k != "FASTBUILD_TUNE_ALLOCATORS"}
    outs = {}
    for tag, extra in (("tuned", {}), ("plain", {"FASTBUILD_TUNE_ALLOCATORS": "0"})):
        outs[tag] = tmp_path / tag
        res = subprocess.run([sys.executable, "-m", "fastbuild", "build", "--output-dir", str(outs[tag]), "--jobs", "2",
                              "--batch-size", "100", "--no-progress"], capture_output=True, text=True,
                             env={**env, **extra}, timeout=600)
        assert res.returncode == 0, res.stderr
    assert read_rows(outs["tuned"]).equals(read_rows(outs["plain"]))


def test_the_command_leaves_the_environment_as_it_was(tmp_path):
    """main(['build', ...]) called by a program: its build is tuned, its os.environ unchanged after."""
    code = ("import os, json, pyarrow as pa\n"
            "from fastbuild.cli import main\n"
            f"rc = main(['build', '--output-dir', {str(tmp_path / 'out')!r}, '--no-progress'])\n"
            "var = os.environ.get('FASTBUILD_TUNE_ALLOCATORS')\n"
            "print(json.dumps([rc, var, pa.default_memory_pool().backend_name]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("FASTBUILD_TUNE_ALLOCATORS", "ARROW_DEFAULT_MEMORY_POOL")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    rc, var, pool = json.loads(res.stdout.strip().splitlines()[-1])
    assert rc == 0 and var is None
    try:
        import pyarrow as pa

        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    assert pool == "jemalloc"  # the build itself was tuned
