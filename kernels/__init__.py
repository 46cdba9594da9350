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
"""

from types import MappingProxyType

from ._numba_config import _OPTIONS, JIT_DISABLED, cache_root, kernel
from .composition import gc_content, sequence_complexity
from .context import CONTEXT_FEATURES, context_features
from .distance import nearest_site_distance
from .downsample import STRATA, downsample_mask, downsample_strata, local_peaks
from .encoding import encode, reverse_complement
from .kmers import kmer_counts, kmer_counts_sparse
from .labels import label_positions
from .long_context import long_context

#: The numba options :func:`kernel` compiles with (a read-only view; pass overrides to ``kernel``).
KERNEL_OPTIONS = MappingProxyType(_OPTIONS)

__all__ = [
    "CONTEXT_FEATURES",
    "JIT_DISABLED",
    "KERNEL_OPTIONS",
    "STRATA",
    "cache_root",
    "context_features",
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
]
