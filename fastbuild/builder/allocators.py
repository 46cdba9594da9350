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
allocators as they are. An allocator the user set (``MALLOC_MMAP_THRESHOLD_``,
``ARROW_DEFAULT_MEMORY_POOL``) is left alone.

The same call skips numba's probe for BLAS in those processes (an import of scipy, where it is
installed, at the first kernel call: :func:`fastbuild_kernels.skip_blas_probe`), and freezes the
objects alive at that moment out of the cyclic garbage collector's reach (``gc.freeze``).
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


def tune_once() -> dict:
    """Apply the build's allocator settings once per process when :data:`ENV` asks for them.

    Returns
    -------
    dict
        ``{"glibc": bool, "arrow_pool": str, "numba_blas_probe_skipped": bool, "gc_frozen": int}``:
        whether glibc's thresholds were set, the backend of pyarrow's default memory pool
        afterwards, whether numba's BLAS probe was skipped, and how many objects were moved out
        of the garbage collector's reach; empty when :data:`ENV` is not "1".
    """
    if os.environ.get(ENV) != "1":
        return {}
    if not _done:
        _done.update(glibc=_glibc_thresholds(), arrow_pool=_arrow_pool(), numba_blas_probe_skipped=_numba(),
                     gc_frozen=_gc_freeze())
    return dict(_done)


def _gc_freeze() -> int:
    """Move every object alive now (modules, numba's and polars' object graphs, the plan) out of
    reach of Python's cyclic garbage collector (``gc.freeze``): its full collections during the
    build then traverse only what the build made. Collection time of a k = 3 build of 1,000
    Arabidopsis genes: 0.095 s -> 0.047 s. Objects frozen are still freed by reference counting;
    only reference cycles among them stay until the process ends. Returns how many were frozen."""
    import gc

    gc.freeze()
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
