"""An installed package never writes into its own folder: indexes and JIT caches go to the user cache.

Fast tests: the cache root and its environment variables, nothing written into the package folders
by a build (numba cache, demo FASTA index), one decompression per gzip FASTA shared by every output
folder, concurrent decompressions. The ``slow`` test runs the README's two set-up commands in one
fresh clone, in both orders (the bug that made an editable install import an empty namespace
package left behind by the non-editable one).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastbuild
import fastbuild_kernels
from fastbuild.genome import Genome, default_cache_dir
from fastbuild_kernels import _numba_config
from tests import synthetic
from tests.conftest import REPO

PACKAGE_DIRS = (Path(fastbuild.__file__).parent, Path(fastbuild_kernels.__file__).parent)
CACHE_VARS = ("FASTBUILD_CACHE_DIR", "FASTBUILD_CACHE", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR")


def _snapshot(*dirs: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``dirs`` but sources and byte-code (editors and interpreters write those)."""
    files = {}
    for folder in dirs:
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc"):
                st = path.stat()
                files[str(path)] = (st.st_size, st.st_mtime_ns)
    return files


def _child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: no cache variables but ``extra``, no byte-code writes."""
    env = {k: v for k, v in os.environ.items() if k not in CACHE_VARS}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "FASTBUILD_NUMBA_CACHE": "1", **extra})
    return env


def _run_python(code: str, env: dict, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _gzip_file(src: Path, dst: Path) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes(), compresslevel=1))
    return dst


# ---------------------------------------------------------------------------- where the cache is
def test_cache_root_order(monkeypatch, tmp_path):
    for name in CACHE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _numba_config.cache_root() == tmp_path / "home" / ".cache" / "fastbuild"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _numba_config.cache_root() == tmp_path / "xdg" / "fastbuild"
    monkeypatch.setenv("FASTBUILD_CACHE", str(tmp_path / "old"))
    assert _numba_config.cache_root() == tmp_path / "old"
    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(tmp_path / "new"))
    assert _numba_config.cache_root() == tmp_path / "new"
    assert default_cache_dir() == tmp_path / "new" / "fasta"
    assert _numba_config.numba_cache_dir() == tmp_path / "new" / "numba"


def test_numba_cache_dir_wins(monkeypatch, tmp_path):
    import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba-own"))
    assert _numba_config.numba_cache_dir() == tmp_path / "numba-own"


# ---------------------------------------------------------------------------- nothing into the package
BUILD_CHILD = """
    import numpy as np
    import fastbuild_kernels as k
    from fastbuild import build_dataset, demo
    from fastbuild.genome import Genome

    with Genome(demo.demo_fasta()) as g:
        codes = g.fetch("NC_003070.9", 1000, 1999)
    assert k.reverse_complement(k.encode("ACGTN")).tolist() == [4, 0, 1, 2, 3]
    build_dataset(n_genes=3, output_dir={out!r}, jobs=1)
    print("ok", int(codes.sum()))
"""


def test_build_writes_nothing_into_the_package(tmp_path):
    cache = tmp_path / "cache"
    before = _snapshot(*PACKAGE_DIRS)
    proc = _run_python(BUILD_CHILD.format(out=str(tmp_path / "out")), _child_env(FASTBUILD_CACHE_DIR=str(cache)),
                       cwd=tmp_path)
    assert proc.stdout.startswith("ok")
    after = _snapshot(*PACKAGE_DIRS)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))
    assert list((cache / "numba").rglob("*.nbi")), "numba's cache is not in the user cache"
    assert list((cache / "fasta").glob("*_demo.fa.fai")), "the demo index is not in the user cache"


def test_unusable_numba_cache_folder_only_warns(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    before = _snapshot(*PACKAGE_DIRS)
    code = "import fastbuild_kernels as k; print(k.encode('ACGT').tolist())"
    proc = _run_python(code, _child_env(FASTBUILD_CACHE_DIR=str(blocker / "cache")), cwd=tmp_path)
    assert proc.stdout.strip() == "[0, 1, 2, 3]"
    assert "is not writable" in proc.stderr and "compiled on every run" in proc.stderr
    assert _snapshot(*PACKAGE_DIRS) == before


def test_numba_cache_switched_off(tmp_path):
    env = _child_env(FASTBUILD_CACHE_DIR=str(tmp_path / "cache"), FASTBUILD_NUMBA_CACHE="0")
    _run_python("import fastbuild_kernels as k; k.encode('ACGT')", env, cwd=tmp_path)
    assert not (tmp_path / "cache" / "numba").exists()


# ---------------------------------------------------------------------------- one decompression per machine
def test_gzip_fasta_decompressed_once_for_two_output_folders(tmp_path, monkeypatch):
    from fastbuild.prepare import PrepareConfig, prepare

    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(tmp_path / "cache"))
    gz = _gzip_file(synthetic.write_fasta(tmp_path / "g.fa"), tmp_path / "g.fa.gz")
    gtf = tmp_path / "a.gtf"
    gtf.write_text(synthetic.gtf_text())
    prepare(PrepareConfig(fasta=str(gz), annotation=str(gtf), out=str(tmp_path / "out1")))
    copies = list(default_cache_dir().glob("*.fa"))
    assert len(copies) == 1
    stamp = copies[0].stat().st_mtime_ns
    prepare(PrepareConfig(fasta=str(gz), annotation=str(gtf), out=str(tmp_path / "out2")))
    moved = shutil.copy(gz, tmp_path / "same-genome.fa.gz")  # same checksum, another path
    with Genome(moved) as g:
        assert g.contigs == {"c": synthetic.LENGTH}
    assert list(default_cache_dir().glob("*.fa")) == copies
    assert copies[0].stat().st_mtime_ns == stamp
    assert not (tmp_path / "out1" / "cache").exists() and not (tmp_path / "out2" / "cache").exists()


def test_prepare_cache_dir_option_still_overrides(tmp_path, monkeypatch):
    from fastbuild.prepare import PrepareConfig, prepare

    monkeypatch.setenv("FASTBUILD_CACHE_DIR", str(tmp_path / "user-cache"))
    gz = _gzip_file(synthetic.write_fasta(tmp_path / "g.fa"), tmp_path / "g.fa.gz")
    gtf = tmp_path / "a.gtf"
    gtf.write_text(synthetic.gtf_text())
    prepare(PrepareConfig(fasta=str(gz), annotation=str(gtf), out=str(tmp_path / "out"),
                          cache_dir=str(tmp_path / "mine")))
    assert len(list((tmp_path / "mine").glob("*.fa"))) == 1
    assert not (tmp_path / "user-cache").exists()


CONCURRENT_CHILD = """
    import sys, time
    from pathlib import Path
    from fastbuild.genome import Genome

    gz, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    me.touch()
    while not other.exists():  # start together: both find no decompressed copy
        time.sleep(0.005)
    with Genome(gz) as g:
        print(g.fetch("c", 1, 12).tolist())
"""


def test_concurrent_decompressions_leave_one_file(tmp_path):
    rng = np.random.default_rng(3)
    seq = rng.choice(np.frombuffer(b"ACGT", np.uint8), 16_000_000).tobytes().decode()
    text = ">c\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80)) + "\n"
    gz = tmp_path / "big.fa.gz"
    gz.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    cache = tmp_path / "cache"
    env = _child_env(FASTBUILD_CACHE_DIR=str(cache))
    flags = [tmp_path / "ready0", tmp_path / "ready1"]
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CONCURRENT_CHILD), str(gz),
                               str(flags[i]), str(flags[1 - i])], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    results = [p.communicate(timeout=300) for p in procs]
    expected = str(["ACGT".index(b) for b in seq[:12]])
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert out.strip() == expected
    files = sorted(p.name for p in (cache / "fasta").iterdir())
    assert len([f for f in files if f.endswith(".fa")]) == 1, files
    assert not [f for f in files if ".tmp" in f], files


# ---------------------------------------------------------------------------- the README's two commands
def _sh(cmd: str, cwd: Path, env: dict, timeout: int = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


OFFLINE_SIGNS = ("No matching distribution", "Could not find a version", "Failed to establish a new connection",
                 "Network is unreachable", "Temporary failure in name resolution", "ProxyError")


def _require(proc: subprocess.CompletedProcess, what: str) -> None:
    """Skip when pip could not reach a package index; fail on any other error."""
    text = proc.stdout + proc.stderr
    if proc.returncode and any(sign in text for sign in OFFLINE_SIGNS):
        pytest.skip(f"pip cannot install the dependencies here ({what}): no package index or network")
    assert proc.returncode == 0, f"{what} failed:\n{text[-4000:]}"


def fresh_clone(dst: Path, overlay: bool = True) -> Path:
    """``git clone`` of this repository; with ``overlay``, its uncommitted work on top (tests the tree as is)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    subprocess.run(["git", "clone", "-q", str(REPO), str(dst)], check=True, capture_output=True, timeout=300)
    if overlay:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=REPO, check=True, capture_output=True, timeout=120).stdout.decode()
        for rel in filter(None, listed.split("\0")):
            src, out = REPO / rel, dst / rel
            if src.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)
            elif not src.exists():
                out.unlink(missing_ok=True)
    return dst


# the README's commands, the second with a lighter install that still goes through the same uninstall
VENV = f"{sys.executable} -m venv .venv && . .venv/bin/activate"
USER_INSTALL = f"{VENV} && pip install . && fastbuild build --output-dir demo_out"
DEV_INSTALL = f"{VENV} && pip install -e '.[test]'"
IMPORT_CHECK = ("python -c 'from fastbuild import build_dataset; import fastbuild_kernels; fastbuild_kernels.STRATA'")
DEV_TESTS = ("python -m pytest -q -p no:cacheprovider -x tests/test_genome.py tests/kernels/test_kernels_seq.py")


def readme_commands(clone: Path, order: tuple[str, ...], env: dict) -> None:
    """Run the set-up commands in ``order`` in one clone, then check imports and a few test files."""
    steps = {"user": USER_INSTALL, "dev": DEV_INSTALL}
    for name in order:
        _require(_sh(steps[name], clone, env), f"the {name} install")
    check = f". .venv/bin/activate && cd / && {IMPORT_CHECK}"
    proc = _sh(check, clone, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if order[-1] == "dev":
        proc = _sh(f". .venv/bin/activate && {DEV_TESTS}", clone, env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize("order", [("user", "dev"), ("dev", "user")], ids=["user-then-dev", "dev-then-user"])
def test_readme_commands_in_one_clone(tmp_path, order):
    clone = fresh_clone(tmp_path / "clone")
    env = _child_env(FASTBUILD_CACHE_DIR=str(tmp_path / "cache"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    readme_commands(clone, order, env)
