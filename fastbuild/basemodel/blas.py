"""Thread control of numpy's bundled OpenBLAS, for the im2col method of the numpy backend.

The im2col method (:mod:`fastbuild.basemodel.forward`) runs one BLAS product per block of rows in
each worker thread; OpenBLAS's own threads would compete with those workers, so the forward pass
sets OpenBLAS to one thread for its duration with :func:`blas_threads`. The OpenBLAS library is
found once, at import, in numpy's ``numpy.libs`` folder (wheels); where it is not found (another
BLAS, a source build) :func:`blas_threads` does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading

import numpy as np

__all__ = ["blas_threads"]

#: Serialises get/set pairs on the (process-wide) OpenBLAS thread count.
_BLAS_LOCK = threading.Lock()


def _find_openblas():
    """The thread-count functions of numpy's bundled OpenBLAS.

    Returns
    -------
    (get, set) : tuple of ctypes functions, or None
        ``get()`` returns and ``set(n)`` sets OpenBLAS's thread count; None where numpy ships no
        OpenBLAS in ``numpy.libs`` or its functions cannot be found under any of the known names
        (``scipy_openblas_`` / ``openblas_`` prefixes, ILP64 ``64_`` suffix or none).
    """
    try:
        libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in glob.glob(os.path.join(libdir, "*openblas*")):
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                    set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                    if get is not None and set_ is not None:
                        set_.argtypes = [ctypes.c_int]
                        return get, set_
    except OSError:
        pass
    return None


_OPENBLAS = _find_openblas()


@contextlib.contextmanager
def blas_threads(n: int):
    """Temporarily set numpy's OpenBLAS thread count (no-op where it cannot be found).

    Parameters
    ----------
    n : int
        OpenBLAS threads inside the ``with`` block; the previous count is restored on exit.

    Yields
    ------
    None
    """
    if _OPENBLAS is None:
        yield
        return
    get, set_ = _OPENBLAS
    with _BLAS_LOCK:
        old = get()
        set_(int(n))
    try:
        yield
    finally:
        with _BLAS_LOCK:
            set_(int(old))
