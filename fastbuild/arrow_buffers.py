"""Arrow arrays to and from numpy through their buffers, without ``pa.array`` / ``to_numpy``.

pyarrow's ``pa.array`` and ``Array.to_numpy`` (like ``pq.read_table``, through ``pyarrow.dataset``)
import pandas on their first call wherever pandas is installed, ~0.17 s of a command's start-up
that fastbuild never uses. These helpers give the same arrays from and to buffers; they cover the
primitive, boolean and string types the builder and the score store write and read.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["coded_strings", "numpy_array", "repeated_strings", "string_array", "to_numpy"]


def numpy_array(data: np.ndarray, type: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    """An Arrow array of a primitive ``type`` over the 1-D numpy ``data``, null where ``mask`` is
    True, made from buffers (zero-copy for a contiguous array of the type's own dtype).

    ``pa.array`` gives the same array, but on its first call it imports pandas wherever pandas is
    installed (pyarrow's pandas shim, ~0.17 s of every build's start-up). Data of another dtype is
    handed to ``pa.array`` (its checked conversion: no silent narrowing).
    """
    data = np.asarray(data)
    if data.ndim != 1:
        raise ValueError(f"numpy_array: needs 1-D data, got shape {data.shape}")
    dtype = np.dtype(bool) if pa.types.is_boolean(type) else np.dtype(type.to_pandas_dtype())
    if data.dtype != dtype:
        return pa.array(data, type=type, mask=None if mask is None else np.asarray(mask, dtype=bool))
    n = int(data.shape[0])
    if dtype.kind == "b":
        values = pa.py_buffer(np.packbits(data, bitorder="little"))
    else:
        values = pa.py_buffer(np.ascontiguousarray(data))
    validity, nulls = None, 0
    if mask is not None:
        nulls = int(np.count_nonzero(mask))
        if nulls:
            validity = pa.py_buffer(np.packbits(~np.asarray(mask, dtype=bool), bitorder="little"))
    return pa.Array.from_buffers(type, n, [validity, values], null_count=nulls)


def string_array(values: list) -> pa.Array:
    """A ``pa.string()`` array of ``values`` (str or None), from buffers (see :func:`numpy_array`)."""
    return repeated_strings(values, np.ones(len(values), dtype=np.int64))


def repeated_strings(values: list, counts) -> pa.Array:
    """A ``pa.string()`` array holding ``values[i]`` (str or None) ``counts[i]`` times in a row,
    made from buffers: the offsets by a cumulative sum, the bytes by repeating each value's.

    The same array as decoding a dictionary array of the values with codes repeated ``counts``
    times (the builder's way before: a per-row dictionary lookup), without the lookup.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if len(values) != counts.shape[0] or (counts < 0).any():
        raise ValueError("repeated_strings: one non-negative count per value is needed")
    data = [b"" if v is None else v.encode() for v in values]
    n = int(counts.sum())
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.repeat(np.array([len(b) for b in data], dtype=np.int64), counts), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("repeated_strings: more than 2 GiB of text; use a large_string column")
    missing = np.repeat(np.array([v is None for v in values], dtype=bool), counts)
    nulls = int(missing.sum())
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if nulls else None
    text = b"".join(b * int(c) for b, c in zip(data, counts, strict=True))
    buffers = [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(text)]
    return pa.Array.from_buffers(pa.string(), n, buffers, null_count=nulls)


def coded_strings(labels: list, codes: np.ndarray) -> pa.Array:
    """A ``pa.string()`` array whose row ``i`` is ``labels[codes[i]]`` (no nulls), from buffers.

    The same array as ``string_array(labels).take(codes)``, without importing
    ``pyarrow.compute`` (~30 ms of a build's start-up) for the take: each label's bytes sit in one
    row of a small table, and the rows' bytes are cut out of ``table[codes]`` in one mask.
    """
    codes = np.asarray(codes)
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise ValueError(f"coded_strings: needs 1-D integer codes, got {codes.dtype} of shape {codes.shape}")
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= len(labels)):
        raise ValueError(f"coded_strings: codes must lie in [0, {len(labels)})")
    data = [label.encode() for label in labels]
    lens = np.array([len(b) for b in data], dtype=np.int64)
    width = max(1, int(lens.max(initial=0)))
    table = np.zeros((len(data), width), dtype=np.uint8)
    for i, b in enumerate(data):
        table[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    row_lens = lens[codes]
    offsets = np.zeros(codes.size + 1, dtype=np.int64)
    np.cumsum(row_lens, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("coded_strings: more than 2 GiB of text; use a large_string column")
    text = table[codes][np.arange(width)[None, :] < row_lens[:, None]]
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(text)]
    return pa.Array.from_buffers(pa.string(), int(codes.size), buffers, null_count=0)


def to_numpy(column) -> np.ndarray:
    """The values of an Arrow array or chunked array as numpy, as ``column.to_numpy()`` gives them:
    for a primitive column without nulls a read-only view of its buffer (one chunk) or one copy;
    anything else (nulls, bool, strings, lists) through pyarrow's own conversion
    (``to_numpy(zero_copy_only=False)``: nulls as NaN or None).
    """
    arr = column
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.null_count or not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        return arr.to_numpy(zero_copy_only=False)
    dtype = np.dtype(arr.type.to_pandas_dtype())
    buf = arr.buffers()[1]
    if buf is None:  # an empty array may have no data buffer
        return np.empty(0, dtype=dtype)
    return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)
