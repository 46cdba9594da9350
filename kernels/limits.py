"""Limits of the kernels, importable without numba (option checks and parsers use them)."""

__all__ = ["MAX_DENSE_ENTRIES", "MAX_K"]

#: Upper bound on ``4**k * len(positions)`` for :func:`~fastbuild_kernels.kmer_counts` (2**31 entries = 4 GiB).
MAX_DENSE_ENTRIES = 2**31
#: Largest k-mer size of the k-mer kernels.
MAX_K = 12
