"""Nucleotide encoding: ASCII -> codes 0..4 and reverse complement."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_1d, as_codes

__all__ = ["encode", "reverse_complement"]

_LUT = np.full(256, 4, dtype=np.uint8)
for _ch, _code in zip(b"ACGT", range(4), strict=True):
    _LUT[_ch] = _code
    _LUT[_ch + 32] = _code  # lower case
del _ch, _code


_COMPLEMENT = np.full(256, 4, dtype=np.uint8)
_COMPLEMENT[:4] = [3, 2, 1, 0]


@kernel
def _map_kernel(src, lut, reverse, out):
    """out[i] = lut[src[i]] (or lut[src[n-1-i]] when reverse): one kernel for both maps."""
    n = src.shape[0]
    if reverse:
        for i in range(n):
            out[i] = lut[src[n - 1 - i]]
    else:
        for i in range(n):
            out[i] = lut[src[i]]


_LUT_RO = readonly_c(_LUT)
_COMPLEMENT_RO = readonly_c(_COMPLEMENT)


def encode(seq) -> np.ndarray:
    """Encode a nucleotide sequence as codes.

    Parameters
    ----------
    seq : bytes, bytearray, memoryview, str or numpy.ndarray of uint8
        ASCII sequence.  A ``str`` must be ASCII-compatible: any non-ASCII character encodes
        as 4.  A uint8 array is read as ASCII bytes (read-only and strided arrays accepted).

    Returns
    -------
    numpy.ndarray of uint8, shape (n,)
        ``A``/``a`` = 0, ``C``/``c`` = 1, ``G``/``g`` = 2, ``T``/``t`` = 3, anything else 4.

    Raises
    ------
    TypeError
        For any other input type or array dtype.
    """
    if isinstance(seq, str):
        arr = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
    elif isinstance(seq, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(seq, dtype=np.uint8)
    elif isinstance(seq, np.ndarray):
        arr = as_1d(seq, "seq")
        if arr.dtype != np.uint8:
            raise TypeError(f"seq array must have dtype uint8 (ASCII bytes), got {arr.dtype}")
    else:
        raise TypeError(f"seq must be bytes, str or a uint8 array, got {type(seq).__name__}")
    arr = readonly_c(arr)
    out = np.empty(arr.shape[0], np.uint8)
    _map_kernel(arr, _LUT_RO, False, out)
    return out


def reverse_complement(codes) -> np.ndarray:
    """Reverse complement of encoded sequence.

    Parameters
    ----------
    codes : numpy.ndarray of uint8, shape (n,)
        Codes 0..4 as returned by :func:`encode`.

    Returns
    -------
    numpy.ndarray of uint8, shape (n,)
        ``codes`` reversed with A<->T (0<->3) and C<->G (1<->2); N (4) stays 4.
    """
    codes = as_codes(codes)
    out = np.empty(codes.shape[0], np.uint8)
    _map_kernel(codes, _COMPLEMENT_RO, True, out)
    return out
