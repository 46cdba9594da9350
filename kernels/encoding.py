"""Nucleotide encoding: ASCII -> codes 0..4 and reverse complement."""

from __future__ import annotations

import numpy as np

from ._numba_config import kernel, readonly_c
from ._validate import as_1d, as_codes

__all__ = ["encode", "reverse_complement"]

_LUT = np.full(256, 4, dtype=np.uint8)
for _ch, _code in zip(b"ACGT", range(4)):
    _LUT[_ch] = _code
    _LUT[_ch + 32] = _code  # lower case
del _ch, _code


@kernel
def _encode_kernel(ascii_bytes, lut):
    n = ascii_bytes.shape[0]
    out = np.empty(n, np.uint8)
    for i in range(n):
        out[i] = lut[ascii_bytes[i]]
    return out


@kernel
def _revcomp_kernel(codes):
    n = codes.shape[0]
    out = np.empty(n, np.uint8)
    for i in range(n):
        c = codes[n - 1 - i]
        out[i] = 3 - c if c < 4 else 4
    return out


_LUT_RO = readonly_c(_LUT)


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
    return _encode_kernel(readonly_c(arr), _LUT_RO)


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
    return _revcomp_kernel(as_codes(codes))
