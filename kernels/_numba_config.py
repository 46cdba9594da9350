"""Numba options shared by every kernel in :mod:`kernels`.

Every private kernel is decorated with :func:`kernel`, so the options live in one place:

* ``nogil=True`` -- kernels never touch Python objects and release the GIL, so callers may
  run them from several threads.
* ``cache`` -- compiled machine code is cached on disk in ``<cache root>/numba/`` (see
  :func:`cache_root` and :func:`numba_cache_dir`; ``NUMBA_CACHE_DIR`` wins when set), never next
  to the sources: an installed package must not write into its install folder.  Switch it with
  the environment variable ``FASTBUILD_NUMBA_CACHE`` (``1``/``0``, default ``1``), read once at
  import time.  A cache folder that cannot be created or written switches caching off with one
  logged warning (kernels then compile on every run).
* ``fastmath=False`` -- no blanket fast-math: results are IEEE-exact and reproducible.
* ``error_model="numpy"`` -- no Python-style ``ZeroDivisionError`` checks inside loops (they
  block vectorisation); kernels never divide by zero on valid input.
* ``boundscheck=False``.

Kernels are compiled lazily on first call.  The public wrappers normalise every array argument
to one numba type (C-contiguous, aligned, read-only view of a fixed dtype; see
:func:`readonly_c`), so each kernel is compiled for exactly one signature (two for the
probability kernels: float32 or float64 inputs).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from numba import config as _numba_env
from numba import njit

__all__ = ["CACHE", "JIT_DISABLED", "cache_root", "kernel", "numba_cache_dir", "readonly_c", "skip_blas_probe"]

log = logging.getLogger("fastbuild_kernels")

#: True under ``NUMBA_DISABLE_JIT=1``: kernels run as plain Python (slow; lets coverage see their bodies).
JIT_DISABLED: bool = bool(_numba_env.DISABLE_JIT)


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


#: Whether kernels use numba's on-disk cache (``FASTBUILD_NUMBA_CACHE``, default on).
CACHE: bool = _env_flag("FASTBUILD_NUMBA_CACHE", True)

_OPTIONS = dict(nogil=True, cache=CACHE, fastmath=False, error_model="numpy", boundscheck=False, no_cfunc_wrapper=True)


def cache_root() -> Path:
    """The user cache folder of fastbuild: the one place that says where it is.

    Holds numba's compiled kernels (``numba/``), decompressed gzip FASTAs and FASTA indexes
    (``fasta/``, see ``fastbuild.genome``) and SpliceAI weights read from .h5 files (``weights/``,
    see ``fastbuild.basemodel.weights_cache``).  The first of these that is set wins:

    1. ``$FASTBUILD_CACHE_DIR``;
    2. ``$FASTBUILD_CACHE`` (the older name, still honoured);
    3. ``$XDG_CACHE_HOME/fastbuild``;
    4. ``~/.cache/fastbuild``.

    Read on every call (numba reads it once, when the kernels are decorated at import).

    Raises
    ------
    RuntimeError
        When none is set and the home folder is unknown.
    """
    for name in ("FASTBUILD_CACHE_DIR", "FASTBUILD_CACHE"):
        value = os.environ.get(name, "").strip()
        if value:
            return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "fastbuild"
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        raise RuntimeError("cannot find the home folder for fastbuild's cache; set FASTBUILD_CACHE_DIR")
    return Path(home) / ".cache" / "fastbuild"


def numba_cache_dir() -> Path:
    """Where numba caches fastbuild's compiled kernels: ``NUMBA_CACHE_DIR`` if set, else ``cache_root()/numba``."""
    if _numba_env.CACHE_DIR:
        return Path(_numba_env.CACHE_DIR)
    return cache_root() / "numba"


@functools.cache
def _usable_cache_dir(path: str) -> bool:
    """Create ``path`` and check a file can be written there (numba's own test); warn once if not."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        log.warning("numba cache folder %s is not writable (%s); fastbuild's kernels are compiled on every "
                    "run (set FASTBUILD_CACHE_DIR to a writable folder, or FASTBUILD_NUMBA_CACHE=0)",
                    path, exc.strerror or exc)
        return False
    return True


def _kernel_cache_dir() -> str | None:
    """The folder for numba's cache of the kernels, or None when it cannot be used."""
    try:
        where = str(numba_cache_dir())
    except RuntimeError as exc:
        log.warning("%s; fastbuild's kernels are compiled on every run", exc)
        return None
    return where if _usable_cache_dir(where) else None


@contextlib.contextmanager
def _numba_cache_dir_set_to(path: str):
    """Point ``numba.config.CACHE_DIR`` at ``path`` for the ``with`` block only."""
    saved = _numba_env.CACHE_DIR
    _numba_env.CACHE_DIR = path
    try:
        yield
    finally:
        _numba_env.CACHE_DIR = saved


def _jit(fn, opts: dict):
    """``njit(**opts)(fn)``, with numba's cache (if on) in :func:`numba_cache_dir`.

    numba picks a function's cache folder once, when caching is enabled at decoration
    (``_UserProvidedCacheLocator`` reads ``numba.config.CACHE_DIR`` then and keeps the path), so
    setting ``CACHE_DIR`` around the decoration places only fastbuild's kernels; other numba
    code in the process keeps numba's own choice.  The setting is process-global for the
    instant of the decoration (another thread decorating a cached function at that very moment
    would share the folder).  An unusable folder switches caching off for the kernel rather than
    let numba fall back to ``__pycache__`` next to the sources.
    """
    if not opts.get("cache") or JIT_DISABLED:
        return njit(**opts)(fn)
    where = _kernel_cache_dir()
    if where is None:
        return njit(**{**opts, "cache": False})(fn)
    with _numba_cache_dir_set_to(where):
        return njit(**opts)(fn)


def kernel(fn=None, **overrides):
    """``numba.njit`` with the project-wide kernel options (see module docstring)."""
    opts = dict(_OPTIONS)
    opts.update(overrides)
    if fn is None:
        return lambda f: _jit(f, opts)
    return _jit(fn, opts)


def readonly_c(arr: np.ndarray, dtype=None) -> np.ndarray:
    """Return ``arr`` as a C-contiguous, aligned, read-only array of ``dtype``.

    No copy is made when ``arr`` already has that dtype and is contiguous and aligned: a
    read-only *view* is returned (the caller's array keeps its own flags).  Strided or
    mis-typed input is copied once.  Giving every kernel argument the same numba type keeps
    one compiled specialisation per kernel.
    """
    if type(arr) is np.ndarray and (dtype is None or arr.dtype == dtype):  # the common case, ~4x faster
        flags = arr.flags
        if flags.c_contiguous and flags.aligned:
            if not flags.writeable:
                return arr
            out = arr.view()
            out.flags.writeable = False
            return out
    out = np.require(arr, dtype=dtype, requirements=("C", "A"))
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


_BLAS_PROBE = "scipy.linalg.cython_blas"


def skip_blas_probe() -> bool:
    """Load numba's array functions without its probe for BLAS; for a process that compiles no
    linear algebra of its own.

    When numba first loads its array functions (the first kernel call of a process: compiled or
    read from the cache) it checks for BLAS by importing ``scipy.linalg.cython_blas``. Where scipy
    is installed that import takes 0.08-0.1 s (scipy 1.17 also imports ``numpy.f2py``) and starts
    one more OpenBLAS thread pool; no kernel here uses BLAS (``np.dot``, ``@``, ``np.linalg``).
    This loads those array functions now with that import refused, so numba records "no BLAS"
    for the rest of the process: ``np.convolve`` and ``np.correlate`` in ``@njit`` code compiled
    later take numba's own loops instead of BLAS (results may differ in the last bits), while
    ``np.dot`` and ``np.linalg`` still work (numba checks for BLAS again when it compiles them).
    So only ``fastbuild build`` asks for it, for its own processes
    (:func:`fastbuild.builder.allocators.tune_once`); scipy itself stays importable.

    Returns
    -------
    bool
        True when the probe was skipped now; False when numba's array functions were already
        loaded, scipy's BLAS already imported (the probe then costs nothing), or under
        ``NUMBA_DISABLE_JIT=1``.
    """
    if JIT_DISABLED or "numba.np.arraymath" in sys.modules or _BLAS_PROBE in sys.modules:
        return False
    sys.modules[_BLAS_PROBE] = None  # the import system's "refuse this import" marker
    try:
        import numba.np.arraymath  # noqa: F401  (numba's BLAS probe runs at its import)
    finally:
        if _BLAS_PROBE in sys.modules and sys.modules[_BLAS_PROBE] is None:
            del sys.modules[_BLAS_PROBE]
    return True
