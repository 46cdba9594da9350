"""Python-level pieces of the numpy engine's forward pass, shared by :mod:`forward` and :mod:`cone`:
the input layer as a lookup table, the activation, the softmax head, float32 contiguity, and the
ensemble's mean over members."""

from __future__ import annotations

import numpy as np


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed in float64, returned as float32."""
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits.astype(np.float32)


def _table(net) -> np.ndarray:
    """[5, C] float32: the input convolution's output for codes A, C, G, T and N."""
    table = np.empty((5, net.channels), dtype=np.float32)
    table[:4] = net.in_w + net.in_b
    table[4] = net.in_b
    return table


def _c32(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous float32 array (the kernels index its raw data)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def _act(v: np.ndarray, slope) -> np.ndarray:
    """max(v, slope*v): ReLU (slope 0) or LeakyReLU."""
    return np.maximum(v, v * slope)


def _member_mean(parts: list) -> np.ndarray:
    """The ensemble's scores: members summed in float64 in member order, divided by their number,
    as float32 (one definition, so that every path averages members bit for bit alike)."""
    acc = np.zeros(parts[0].shape, dtype=np.float64)
    for p in parts:
        acc += p
    return (acc / len(parts)).astype(np.float32)
