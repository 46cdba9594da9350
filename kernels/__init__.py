"""Compute kernels of fastbuild: numba-compiled, GIL-free, one-pass array functions.

Coordinate convention
---------------------
Every position, site and window here is a **0-based offset into the arrays passed in**
(``codes``, probability arrays).  The kernels know nothing about contigs, genomic
coordinates or strands: the caller maps genomic coordinates to offsets and orients the
sequence (e.g. with :func:`reverse_complement`) before calling.  Windows are half-open
slices ``codes[max(0, p - left) : min(n, p + right + 1)]`` clipped at the array ends.

Each public array function is a thin validating wrapper (dtype/shape/range checks raising
``TypeError``/``ValueError``) over a private ``numba`` kernel compiled with the project's kernel
options (``nogil``, on-disk cache switchable with ``FASTBUILD_NUMBA_CACHE=0/1``, no fast-math).
Inputs may be read-only or strided; contiguous inputs of the expected dtype are never copied.

Numba configuration
-------------------
The same options serve numba code elsewhere in the project (e.g. the forward-pass kernels of
``fastbuild.basemodel.forward_numba_fns``) through three public names:

* :func:`kernel` -- ``numba.njit`` with the project-wide options (keyword arguments override
  them); use it as ``@kernel`` or ``@kernel(**overrides)``.
* :data:`KERNEL_OPTIONS` -- those options (``nogil``, ``cache``, ``fastmath`` ...), a read-only
  mapping; they are set, and documented, in the private ``_numba_config`` module.
* :data:`JIT_DISABLED` -- True under ``NUMBA_DISABLE_JIT=1`` (kernels then run as Python).
* :func:`cache_root` -- the user cache folder of fastbuild (``$FASTBUILD_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/fastbuild`` or ``~/.cache/fastbuild``): compiled kernels go to its
  ``numba/`` (unless ``NUMBA_CACHE_DIR`` is set), and :mod:`fastbuild` keeps decompressed
  FASTAs and indexes in its ``fasta/``. Nothing is ever written into the installed package.
* :func:`skip_blas_probe` -- load numba's array functions without its BLAS probe (an import of
  scipy), for a process that compiles no linear algebra (the build command's processes).
"""

import importlib

#: public name -> the module defining it. Modules load on first use (PEP 562): importing the
#: package costs nothing, so a command's parser or an option check never pays for numba.
_WHERE = {
    "JIT_DISABLED": "_numba_config", "cache_root": "_numba_config", "kernel": "_numba_config",
    "skip_blas_probe": "_numba_config",
    "gc_content": "composition", "sequence_complexity": "composition",
    "CONTEXT_FEATURES": "context", "context_features": "context", "context_matrix": "context",
    "nearest_site_distance": "distance",
    "STRATA": "downsample", "downsample_mask": "downsample", "downsample_strata": "downsample",
    "local_peaks": "downsample",
    "encode": "encoding", "reverse_complement": "encoding",
    "kmer_counts": "kmers", "kmer_counts_sparse": "kmers",
    "label_positions": "labels",
    "long_context": "long_context",
    "track_window_means": "track_windows",
}


def __getattr__(name):
    if name == "KERNEL_OPTIONS":
        from types import MappingProxyType

        from ._numba_config import _OPTIONS

        #: The numba options :func:`kernel` compiles with (a read-only view; pass overrides to ``kernel``).
        return MappingProxyType(_OPTIONS)
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])


__all__ = [
    "CONTEXT_FEATURES",
    "JIT_DISABLED",
    "KERNEL_OPTIONS",
    "STRATA",
    "cache_root",
    "context_features",
    "context_matrix",
    "downsample_mask",
    "downsample_strata",
    "encode",
    "gc_content",
    "kernel",
    "kmer_counts",
    "kmer_counts_sparse",
    "label_positions",
    "local_peaks",
    "long_context",
    "nearest_site_distance",
    "reverse_complement",
    "sequence_complexity",
    "skip_blas_probe",
    "track_window_means",
]
