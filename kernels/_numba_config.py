"""Numba options shared by every kernel in :mod:`kernels`.

Every private kernel is decorated with :func:`kernel`, so the options live in one place:

* ``nogil=True`` -- kernels never touch Python objects and release the GIL, so callers may
  run them from several threads.
* ``cache`` -- compiled machine code is cached on disk (numba's ``__pycache__`` index next to
  the sources, or ``NUMBA_CACHE_DIR``).  Switch it with the environment variable
  ``FASTBUILD_NUMBA_CACHE`` (``1``/``0``, default ``1``), read once at import time.
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

import os

import numpy as np
from numba import config as _numba_env
from numba import njit

__all__ = ["CACHE", "JIT_DISABLED", "kernel", "readonly_c"]

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


def kernel(fn=None, **overrides):
    """``numba.njit`` with the project-wide kernel options (see module docstring)."""
    opts = dict(_OPTIONS)
    opts.update(overrides)
    if fn is None:
        return lambda f: njit(**opts)(f)
    return njit(**opts)(fn)


def readonly_c(arr: np.ndarray, dtype=None) -> np.ndarray:
    """Return ``arr`` as a C-contiguous, aligned, read-only array of ``dtype``.

    No copy is made when ``arr`` already has that dtype and is contiguous and aligned: a
    read-only *view* is returned (the caller's array keeps its own flags).  Strided or
    mis-typed input is copied once.  Giving every kernel argument the same numba type keeps
    one compiled specialisation per kernel.
    """
    out = np.require(arr, dtype=dtype, requirements=("C", "A"))
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out
