"""Allocator settings of a ``fastbuild build`` process: freed memory reused, not faulted in again.

A build allocates the same large buffers over and over: per record batch, each column's numpy
array (a k = 6 sparse batch of 20,000 rows holds ~35 MB of k-mer ids), and Parquet's encoding
buffers of the same size. glibc returns any block above its mmap threshold (at most 32 MiB) to
the system when it is freed, and Arrow's default allocator (mimalloc) decommits freed memory
after 10 ms, so every batch faults its memory in again and the kernel zeroes it page by page:
``clear_page_erms`` was 20% of a k = 6 build's CPU samples (``perf record``), and 1.9-3.2 s of
system time per 1,000 Arabidopsis genes. With glibc's thresholds raised (blocks up to 256 MiB
from the heap, up to 1 GiB of free heap kept) and Arrow on its jemalloc pool, system time fell
to 0.7-0.8 s and peak RSS did not grow (docs/benchmarks.md).

The settings are process-wide, so only the command line asks for them: ``fastbuild build`` sets
:data:`ENV` for itself and the local workers it starts (which inherit it), and each build unit
calls :func:`tune_once`. A program that calls :func:`fastbuild.build_dataset` itself keeps its
allocators as they are. A setting the user made (``MALLOC_MMAP_THRESHOLD_``,
``ARROW_DEFAULT_MEMORY_POOL``, ``NUMPY_MADVISE_HUGEPAGE``) is left alone.

The same call stops numpy asking for transparent huge pages for its large arrays (zeroed 2 MiB at
a time on first touch: slower here), skips numba's probe for BLAS (an import of scipy, where it
is installed, at the first kernel call: :func:`fastbuild_kernels.skip_blas_probe`), and freezes
the objects alive at that moment out of the cyclic garbage collector's reach (``gc.freeze``).
:func:`untune` undoes the two of these that can be undone.
"""

from __future__ import annotations

import ctypes
import os
import sys

ENV = "FASTBUILD_TUNE_ALLOCATORS"  # "1": build units of this process tune its allocators
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_done: dict = {}
_undo: list = []  # what untune() reverses, last first


def tune_once() -> dict:
    """Apply the build's allocator settings once per process when :data:`ENV` asks for them.

    Returns
    -------
    dict
        ``{"glibc": bool, "arrow_pool": str, "numpy_hugepages": bool | None,
        "numba_blas_probe_skipped": bool, "gc_frozen": int}``: whether glibc's thresholds were
        set, the backend of pyarrow's default memory pool afterwards, whether numpy still asks
        for huge pages, whether numba's BLAS probe was skipped, and how many objects were moved
        out of the garbage collector's reach; empty when :data:`ENV` is not "1".
    """
    if os.environ.get(ENV) != "1":
        return {}
    if not _done:
        _done.update(glibc=_glibc_thresholds(), arrow_pool=_arrow_pool(), numpy_hugepages=_numpy_hugepages(),
                     numba_blas_probe_skipped=_numba(), gc_frozen=_gc_freeze())
    return dict(_done)


def untune() -> None:
    """Undo what :func:`tune_once` did in this process that can be undone: numpy asks for huge
    pages again as before, and the frozen objects are back within the garbage collector's reach.

    For a program that runs ``main(["build", ...])`` in its own process (the command calls this
    when it ends, unless :data:`ENV` was set before it started); a later tuned build tunes again.
    glibc's thresholds, Arrow's memory pool and numba's BLAS decision stay.
    """
    while _undo:
        _undo.pop()()
    _done.clear()


def _numpy_hugepages() -> bool | None:
    """Stop numpy asking for transparent huge pages (``madvise(MADV_HUGEPAGE)``) for its arrays of
    4 MiB and more; returns whether it still asks (None: this numpy cannot say).

    Those arrays here are the sparse k-mer lists of a record batch (~100 MiB at k = 6). Each huge
    page is zeroed, 2 MiB at a time, when first touched, where the system must also find (or
    compact) 2 MiB of free memory; on the 2-vCPU build VM the first two record batches of a k = 6
    sparse build then took 170-300 ms each to assemble instead of 40-70 ms (later ones ~15 ms
    either way: the memory is reused), and a 1,000-gene build took 6.1 s instead of 6.7-7.6 s
    (docs/benchmarks.md). The arrays are written once and read once, so the TLB gains of huge
    pages do not pay for that. A ``NUMPY_MADVISE_HUGEPAGE`` set by the user is left alone."""
    import numpy as np

    multiarray = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1.26
    setter = getattr(multiarray.multiarray, "_set_madvise_hugepage", None)
    getter = getattr(multiarray.multiarray, "_get_madvise_hugepage", None)
    if setter is not None and "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        before = setter(False)
        _undo.append(lambda: setter(before))
    return bool(getter()) if getter is not None else None


def _gc_freeze() -> int:
    """Move every object alive now (modules, numba's and polars' object graphs, the plan) out of
    reach of Python's cyclic garbage collector (``gc.freeze``): its full collections during the
    build then traverse only what the build made. Collection time of a k = 3 build of 1,000
    Arabidopsis genes: 0.095 s -> 0.047 s. Objects frozen are still freed by reference counting;
    only reference cycles among them stay until the process ends. Returns how many were frozen."""
    import gc

    gc.freeze()
    _undo.append(gc.unfreeze)
    return gc.get_freeze_count()


def _numba() -> bool:
    """Skip numba's BLAS probe (an import of scipy: 0.08-0.1 s at the first kernel call where scipy
    is installed); a build process compiles no linear algebra (:func:`fastbuild_kernels.skip_blas_probe`)."""
    import fastbuild_kernels

    return fastbuild_kernels.skip_blas_probe()


def _glibc_thresholds() -> bool:
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc; musl has no mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def _arrow_pool() -> str:
    import pyarrow as pa

    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowException):  # a pyarrow built without jemalloc
            pass
    return pa.default_memory_pool().backend_name
