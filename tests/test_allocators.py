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
import gc
print(json.dumps({"first": first, "again": again, "pool": pa.default_memory_pool().backend_name,
                  "frozen": gc.get_freeze_count()}))
"""


def _probe(**env) -> dict:
    base = {k: v for k, v in os.environ.items()
            if k not in ("FASTBUILD_TUNE_ALLOCATORS", "ARROW_DEFAULT_MEMORY_POOL", "MALLOC_MMAP_THRESHOLD_",
                         "NUMPY_MADVISE_HUGEPAGE")}
    res = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**base, **env},
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_nothing_changes_unless_asked():
    got = _probe()
    assert got["first"] == {} and got["again"] == {} and got["frozen"] == 0
    assert got["pool"] == _probe(ARROW_DEFAULT_MEMORY_POOL="mimalloc")["pool"]  # pyarrow's own default


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_asked_for_glibc_thresholds_and_arrow_jemalloc_once():
    import pyarrow as pa

    got = _probe(FASTBUILD_TUNE_ALLOCATORS="1")
    assert got["first"] == got["again"] and got["first"]["glibc"] is True
    assert got["first"]["gc_frozen"] > 1000 and got["frozen"] == got["first"]["gc_frozen"]
    assert got["first"]["numpy_hugepages"] in (False, None)  # None: a numpy that cannot say
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    assert got["first"]["arrow_pool"] == got["pool"] == "jemalloc"


def test_a_users_own_choice_is_left_alone():
    got = _probe(FASTBUILD_TUNE_ALLOCATORS="1", ARROW_DEFAULT_MEMORY_POOL="system", MALLOC_MMAP_THRESHOLD_="131072",
                 NUMPY_MADVISE_HUGEPAGE="1")
    assert got["first"]["glibc"] is False and got["first"]["arrow_pool"] == "system" and got["pool"] == "system"
    assert got["first"]["numpy_hugepages"] in (True, None)


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
    code = ("import os, json, gc, pyarrow as pa, numpy as np\n"
            "from fastbuild.cli import main\n"
            "hp = (getattr(np, '_core', None) or np.core).multiarray._get_madvise_hugepage\n"
            "hp_before = hp()\n"
            f"rc = main(['build', '--output-dir', {str(tmp_path / 'out')!r}, '--no-progress'])\n"
            "var = os.environ.get('FASTBUILD_TUNE_ALLOCATORS')\n"
            "from fastbuild.builder import allocators\n"
            "print(json.dumps([rc, var, pa.default_memory_pool().backend_name, gc.get_freeze_count(),\n"
            "                  hp() == hp_before, allocators._done]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("FASTBUILD_TUNE_ALLOCATORS", "ARROW_DEFAULT_MEMORY_POOL")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    rc, var, pool, frozen, same_hugepages, done = json.loads(res.stdout.strip().splitlines()[-1])
    assert rc == 0 and var is None
    assert frozen == 0 and same_hugepages and done == {}  # undone after the command (allocators.untune)
    try:
        import pyarrow as pa

        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    assert pool == "jemalloc"  # the build itself was tuned


BLAS_PROBE = """
import json, sys
import numpy as np
from fastbuild.builder import allocators
import fastbuild_kernels as kernels
skipped = allocators.tune_once().get("numba_blas_probe_skipped")
p = np.linspace(0, 1, 50, dtype=np.float32)
pred, splice = kernels.label_positions(p, p[::-1].copy(), np.array([3]), np.array([40]), 0.5, 2)
d = kernels.nearest_site_distance(np.arange(50), np.array([3, 40]))
out = {"skipped": skipped, "scipy_imported": "scipy.linalg" in sys.modules, "labels": pred.tolist() + splice.tolist(),
       "distance": d.tolist(), "again": kernels.skip_blas_probe()}
try:
    import scipy.linalg  # still importable afterwards
    out["scipy_after"] = True
except ImportError:
    out["scipy_after"] = None
print(json.dumps(out))
"""


def test_the_build_process_skips_numbas_blas_probe_and_kernels_agree():
    """Tuned: numba's array functions load without importing scipy; kernels give the same values."""
    runs = {}
    for tag, env in (("tuned", {"FASTBUILD_TUNE_ALLOCATORS": "1"}), ("plain", {})):
        base = {k: v for k, v in os.environ.items() if k not in ("FASTBUILD_TUNE_ALLOCATORS", "NUMBA_DISABLE_JIT")}
        res = subprocess.run([sys.executable, "-c", BLAS_PROBE], capture_output=True, text=True,
                             env={**base, **env}, timeout=300)
        assert res.returncode == 0, res.stderr
        runs[tag] = json.loads(res.stdout)
    tuned, plain = runs["tuned"], runs["plain"]
    assert tuned["skipped"] is True and plain["skipped"] is None
    assert tuned["scipy_imported"] is False, "numba imported scipy for its BLAS probe"
    assert tuned["again"] is False and plain["again"] is False  # too late once numba loaded them
    assert tuned["labels"] == plain["labels"] and tuned["distance"] == plain["distance"]
    assert tuned["scipy_after"] == plain["scipy_after"]
