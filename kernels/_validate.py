"""Argument checks shared by the public wrappers (pure Python/numpy, no numba)."""

from __future__ import annotations

import operator

import numpy as np

from ._numba_config import readonly_c


def as_array(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc


def as_1d(x, name: str) -> np.ndarray:
    arr = as_array(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def as_codes(codes, name: str = "codes") -> np.ndarray:
    """uint8 codes in 0..4 as a read-only C-contiguous view (no copy when possible)."""
    arr = as_1d(codes, name)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name} must be a uint8 array of codes 0..4 (see kernels.encode), got dtype {arr.dtype}")
    if arr.size and int(arr.max()) > 4:
        raise ValueError(f"{name} must hold codes 0..4 only (A,C,G,T,N); found {int(arr.max())}")
    return readonly_c(arr)


def as_int(x, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        v = operator.index(x)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(x).__name__}") from None
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def as_int64(x, name: str) -> np.ndarray:
    """Integer array -> read-only C-contiguous int64 (no copy when already int64 contiguous)."""
    arr = as_1d(x, name)
    if arr.size == 0 and arr.dtype.kind not in "iu":
        arr = arr.astype(np.int64)  # e.g. [] -> float64 empty: accept
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} has values beyond int64")
    return readonly_c(arr, np.int64)


def as_positions(x, n: int, name: str = "positions") -> np.ndarray:
    """int64 positions, each in [0, n)."""
    arr = as_int64(x, name)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} must lie in [0, {n}) (0-based offsets into the array); found {bad}")
    return arr


def as_float(x, name: str) -> float:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, got bool")
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}") from None
    return v


def as_probs(*arrays_and_names):
    """Real 1-D arrays of one length -> float32 if all are float32, else float64 (read-only views)."""
    arrs = []
    for x, name in arrays_and_names:
        a = as_1d(x, name)
        if a.size == 0 and a.dtype.kind not in "fiub":
            a = a.astype(np.float64)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a real (float or integer) array, got dtype {a.dtype}")
        arrs.append((a, name))
    n = arrs[0][0].shape[0]
    for a, name in arrs[1:]:
        if a.shape[0] != n:
            raise ValueError(f"{name} has length {a.shape[0]}, expected {n} (same as {arrs[0][1]})")
    dtype = np.float32 if all(a.dtype == np.float32 for a, _ in arrs) else np.float64
    return [readonly_c(a, dtype) for a, _ in arrs]
