"""Compute kernels of fastbuild: numba-compiled, GIL-free, one-pass array functions.

Coordinate convention
---------------------
Every position, site and window here is a **0-based offset into the arrays passed in**
(``codes``, probability arrays).  The kernels know nothing about contigs, genomic
coordinates or strands: the caller maps genomic coordinates to offsets and orients the
sequence (e.g. with :func:`reverse_complement`) before calling.  Windows are half-open
slices ``codes[max(0, p - left) : min(n, p + right + 1)]`` clipped at the array ends.

Each public function is a thin validating wrapper (dtype/shape/range checks raising
``TypeError``/``ValueError``) over a private ``numba`` kernel compiled with the options in
:mod:`kernels._numba_config` (``nogil``, on-disk cache switchable with
``FASTBUILD_NUMBA_CACHE=0/1``, no fast-math).  Inputs may be read-only or strided; contiguous
inputs of the expected dtype are never copied.
"""

from .composition import gc_content, sequence_complexity
from .context import CONTEXT_FEATURES, context_features
from .distance import nearest_site_distance
from .downsample import STRATA, downsample_mask, downsample_strata, local_peaks
from .encoding import encode, reverse_complement
from .kmers import kmer_counts, kmer_counts_sparse
from .labels import label_positions

__all__ = [
    "CONTEXT_FEATURES",
    "STRATA",
    "context_features",
    "downsample_mask",
    "downsample_strata",
    "encode",
    "gc_content",
    "kmer_counts",
    "kmer_counts_sparse",
    "label_positions",
    "local_peaks",
    "nearest_site_distance",
    "reverse_complement",
    "sequence_complexity",
]
