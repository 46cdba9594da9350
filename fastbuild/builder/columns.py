"""Rows as numpy columns until the last moment, then one Arrow record batch per ``batch_rows``.

Featurisation produces :class:`Chunk` objects (numpy arrays, one gene or transcript each);
:class:`ColumnBuffer` concatenates them and converts to Arrow once per record batch, so the
per-column conversion cost is paid per ``batch_rows`` rows rather than per gene.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from fastbuild.arrow_buffers import coded_strings, numpy_array, repeated_strings, string_array
from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES

CODED = {"splice_type": list(SPLICE_TYPES), "pred_type": list(PRED_TYPES)}  # int8 codes -> these strings


@dataclass
class Chunk:
    """``m`` rows of one gene (or transcript).

    Attributes
    ----------
    arrays : dict
        Column -> numpy array of length ``m`` (codes for ``splice_type``/``pred_type``).
    masks : dict
        Column -> boolean null mask for nullable numeric columns.
    consts : dict
        Columns constant over the chunk (gene_id, chrom, gene_length, ...; None = null): one
        value each, repeated once per record batch instead of once per chunk.
    sparse : dict
        Column prefix ``"{k}mer"`` -> (indptr, ids, counts) CSR k-mer counts.
    blocks : dict
        Tuple of column names -> 2-D array with one row per name and ``m`` columns (what one
        kernel call makes: the score context, the long-range context, dense k-mer counts); a
        record batch concatenates each block once instead of each of its columns.
    """

    m: int
    arrays: dict
    masks: dict = field(default_factory=dict)
    consts: dict = field(default_factory=dict)
    sparse: dict = field(default_factory=dict)
    blocks: dict = field(default_factory=dict)

    def slice(self, a: int, b: int) -> Chunk:
        sparse = {}
        for key, (indptr, ids, counts) in self.sparse.items():
            lo, hi = indptr[a], indptr[b]
            sparse[key] = (indptr[a:b + 1] - lo, ids[lo:hi], counts[lo:hi])
        return Chunk(b - a, {k: v[a:b] for k, v in self.arrays.items()},
                     {k: v[a:b] for k, v in self.masks.items()}, dict(self.consts), sparse,
                     {k: v[:, a:b] for k, v in self.blocks.items()})


def to_record_batch(schema: pa.Schema, chunks: list[Chunk]) -> pa.RecordBatch:
    """One record batch with ``schema`` from consecutive chunks."""
    counts = np.array([c.m for c in chunks], dtype=np.int64)
    first = chunks[0]
    in_block = {name: (key, r) for key in first.blocks for r, name in enumerate(key)}
    joined: dict = {}
    cols = []
    for f in schema:
        name = f.name
        if name in in_block:
            key, r = in_block[name]
            if key not in joined:
                joined[key] = (np.concatenate([c.blocks[key] for c in chunks], axis=1) if len(chunks) > 1
                               else first.blocks[key])
            cols.append(numpy_array(joined[key][r], f.type))
        elif name in first.consts:
            values = [c.consts[name] for c in chunks]
            if all(v is None for v in values):
                cols.append(pa.nulls(int(counts.sum()), f.type))
                continue
            if f.type == pa.string():
                cols.append(repeated_strings(values, counts))
                continue
            if not pa.types.is_dictionary(f.type):  # a number or a bool
                nulls = [v is None for v in values]
                data = np.repeat(np.array([0 if v is None else v for v in values], f.type.to_pandas_dtype()), counts)
                cols.append(numpy_array(data, f.type, np.repeat(nulls, counts) if any(nulls) else None))
                continue
            index: dict = {}
            codes = np.repeat(np.array([index.setdefault(v, len(index)) for v in values], np.int32), counts)
            col = pa.DictionaryArray.from_arrays(numpy_array(codes, pa.int32()), string_array(list(index)))
            cols.append(col if col.type == f.type else col.cast(f.type))  # (a cast imports pyarrow.compute)
        elif name in first.arrays:
            data = np.concatenate([c.arrays[name] for c in chunks]) if len(chunks) > 1 else first.arrays[name]
            if name in CODED:
                cols.append(coded_strings(CODED[name], data))
            elif name in first.masks:
                mask = np.concatenate([c.masks[name] for c in chunks])
                cols.append(numpy_array(data, f.type, mask))
            else:
                cols.append(numpy_array(data, f.type))
        else:
            key, part = name.rsplit("_", 1)  # "{k}mer_ids" / "{k}mer_counts"
            indptrs, ids, cnts, base = [np.zeros(1, np.int64)], [], [], 0
            for c in chunks:
                ip, i, n = c.sparse[key]
                indptrs.append(ip[1:] + base)
                base += int(ip[-1])
                ids.append(i)
                cnts.append(n)
            offsets = numpy_array(np.concatenate(indptrs).astype(np.int32), pa.int32())  # < batch_rows * 4**k
            values = np.concatenate(ids if part == "ids" else cnts)
            cols.append(pa.ListArray.from_arrays(offsets, numpy_array(values, f.type.value_type)))
    return pa.RecordBatch.from_arrays(cols, schema=schema)


class ColumnBuffer:
    """Collects chunks; emits record batches of exactly ``batch_rows`` rows (the last: fewer).

    Holds at most ``batch_rows`` rows plus one incoming chunk (chunks are themselves capped at
    ``batch_rows``), so memory follows ``--batch-rows``.
    """

    def __init__(self, schema: pa.Schema, batch_rows: int, sink):
        self.schema, self.batch_rows, self.sink = schema, batch_rows, sink
        self._chunks: list[Chunk] = []
        self._rows = 0

    def add(self, chunk: Chunk) -> None:
        while chunk.m:
            room = self.batch_rows - self._rows
            take = chunk if chunk.m <= room else chunk.slice(0, room)
            self._chunks.append(take)
            self._rows += take.m
            chunk = chunk.slice(take.m, chunk.m) if take is not chunk else Chunk(0, {})
            if self._rows == self.batch_rows:
                self.flush()

    def flush(self) -> None:
        if self._rows:
            self.sink(to_record_batch(self.schema, self._chunks))
        self._chunks, self._rows = [], 0
