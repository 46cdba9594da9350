"""Parquet row groups encoded apart, on several threads, joined into one file.

pyarrow's ``ParquetWriter`` encodes a row group's columns one after another on one thread (its
C++ writer can do better, but pyarrow 26 does not bind that path), and at k = 6 a sparse batch
file's k-mer list columns keep that thread busy for most of a build. So each record batch is
encoded on its own (:func:`encode_part`: a complete one-row-group Parquet file in memory), on
whichever thread is free, and :class:`JoinedFile` appends the parts' row-group bytes to the real
file in order and writes one footer for all of them.

A part's pages hold no file offsets, so its bytes are copied as they are; only the footer
(Thrift compact protocol, decoded and re-encoded here without loss) names offsets, and each
part's are moved by where its bytes land. The joined file is byte for byte the one a single
``ParquetWriter`` writes from the same record batches with the same options
(``tests/test_parquet_join.py``). Column and offset indexes and bloom filters, which live
outside the row groups, are refused.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.builder.parquet_join_numba_fns import moved_row_groups

MAGIC = b"PAR1"

# Thrift compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT, _UUID = range(14)
_FIXED = {_BYTE: 1, _DOUBLE: 8, _UUID: 16}

# field ids of parquet.thrift that this module reads or changes
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_KV = 3, 4, 5
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META = 2, 3
_CC_OUTSIDE = {4: "an offset index", 6: "a column index", 8: "encryption"}
_CMD_OFFSETS = (9, 10, 11)  # data_page_offset, index_page_offset, dictionary_page_offset
_CMD_BLOOM = 14


class Raw(bytes):
    """Bytes already encoded: a container's value written as it is (its header included)."""


class Struct(list):
    """A decoded Thrift struct: ``[field_id, type, value]`` entries in the order read."""

    def get(self, fid: int):
        for f in self:
            if f[0] == fid:
                return f
        return None


def _uvarint(buf, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _value(buf, pos: int, t: int):
    if t in (_I16, _I32, _I64):
        v, pos = _uvarint(buf, pos)
        return (v >> 1) ^ -(v & 1), pos
    if t == _BINARY:
        n, pos = _uvarint(buf, pos)
        return bytes(buf[pos:pos + n]), pos + n
    if t == _STRUCT:
        return _struct(buf, pos)
    if t in (_LIST, _SET):
        head = buf[pos]
        pos += 1
        n, et = head >> 4, head & 0x0F
        if n == 15:
            n, pos = _uvarint(buf, pos)
        items = []
        for _ in range(n):
            v, pos = _value(buf, pos, et)
            items.append(v)
        return (et, items), pos
    if t == _MAP:
        n, pos = _uvarint(buf, pos)
        kt = vt = 0
        if n:
            kt, vt = buf[pos] >> 4, buf[pos] & 0x0F
            pos += 1
        items = []
        for _ in range(n):
            k, pos = _value(buf, pos, kt)
            v, pos = _value(buf, pos, vt)
            items.append((k, v))
        return (kt, vt, items), pos
    if t in (_TRUE, _FALSE):  # a bool inside a container: one byte
        return buf[pos], pos + 1
    if t in _FIXED:
        return bytes(buf[pos:pos + _FIXED[t]]), pos + _FIXED[t]
    raise ValueError(f"Parquet footer: unknown Thrift type {t} at byte {pos}")


def _struct(buf, pos: int) -> tuple[Struct, int]:
    out = Struct()
    last = 0
    while True:
        head = buf[pos]
        pos += 1
        if head == _STOP:
            return out, pos
        t, delta = head & 0x0F, head >> 4
        if delta:
            fid = last + delta
        else:
            fid, pos = _value(buf, pos, _I16)
        if t in (_TRUE, _FALSE):
            v = None  # a bool field's value is its type
        else:
            v, pos = _value(buf, pos, t)
        out.append([fid, t, v])
        last = fid


def _put_uvarint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _put_value(out: bytearray, t: int, v) -> None:
    if isinstance(v, Raw):
        out += v
    elif t in (_I16, _I32, _I64):
        _put_uvarint(out, (v << 1) ^ (v >> 63))  # zigzag
    elif t == _BINARY:
        _put_uvarint(out, len(v))
        out += v
    elif t == _STRUCT:
        _put_struct(out, v)
    elif t in (_LIST, _SET):
        et, items = v
        if len(items) < 15:
            out.append(len(items) << 4 | et)
        else:
            out.append(0xF0 | et)
            _put_uvarint(out, len(items))
        for item in items:
            _put_value(out, et, item)
    elif t == _MAP:
        kt, vt, items = v
        _put_uvarint(out, len(items))
        if items:
            out.append(kt << 4 | vt)
        for k, item in items:
            _put_value(out, kt, k)
            _put_value(out, vt, item)
    elif t in (_TRUE, _FALSE):
        out.append(v)
    else:
        out += v


def _put_struct(out: bytearray, s: Struct) -> None:
    last = 0
    for fid, t, v in s:
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | t)
        else:
            out.append(t)
            _put_value(out, _I16, fid)
        if t not in (_TRUE, _FALSE):
            _put_value(out, t, v)
        last = fid
    out.append(_STOP)


def decode_footer(data) -> Struct:
    """The FileMetaData of a whole Parquet file's bytes, decoded."""
    mv = memoryview(data).cast("B")
    if len(mv) < 12 or bytes(mv[:4]) != MAGIC or bytes(mv[-4:]) != MAGIC:
        raise ValueError("not a Parquet file (no PAR1 magic at both ends)")
    n = struct.unpack("<I", mv[-8:-4])[0]
    meta, end = _struct(mv, len(mv) - 8 - n)
    if end != len(mv) - 8:
        raise ValueError("Parquet footer: length does not match its contents")
    return meta


def encode_footer(meta: Struct) -> bytes:
    """The tail of a Parquet file for ``meta``: the encoded FileMetaData, its length, PAR1."""
    out = bytearray()
    _put_struct(out, meta)
    return bytes(out) + struct.pack("<I", len(out)) + MAGIC


def _moved_row_group(rg: Struct, shift: int, ordinal: int) -> Struct:
    """``rg`` with every offset moved by ``shift`` bytes and its ordinal set (in place)."""
    for f in rg:
        if f[0] == _RG_FILE_OFFSET:
            f[2] += shift
        elif f[0] == _RG_ORDINAL:
            f[2] = ordinal
        elif f[0] == _RG_COLUMNS:
            for cc in f[2][1]:
                for g in cc:
                    if g[0] in _CC_OUTSIDE:
                        raise ValueError(f"parquet_join: a column chunk has {_CC_OUTSIDE[g[0]]}, which "
                                         "lies outside its row group; write without it")
                    if g[0] == _CC_FILE_OFFSET and g[2] > 0:  # (deprecated; Arrow writes 0)
                        g[2] += shift
                    elif g[0] == _CC_META:
                        for h in g[2]:
                            if h[0] in _CMD_OFFSETS:
                                h[2] += shift
                            elif h[0] == _CMD_BLOOM:
                                raise ValueError("parquet_join: a column chunk has a bloom filter, which lies "
                                                 "outside its row group; write without it")
    return rg


def moved_row_groups_slow(footer: bytes, shift: int, first_ordinal: int) -> tuple[bytes, int, int]:
    """The twin of :func:`~fastbuild.builder.parquet_join_numba_fns.moved_row_groups`, by
    decoding the footer into :class:`Struct` objects, moving them, and encoding them again."""
    meta, end = _struct(memoryview(footer).cast("B"), 0)
    if end != len(footer):
        raise ValueError("Parquet footer: length does not match its contents")
    groups = meta.get(_FMD_ROW_GROUPS)
    out = bytearray()
    for i, rg in enumerate(groups[2][1] if groups else []):
        if first_ordinal + i > 32767:
            raise ValueError("Parquet footer: more than 32,767 row groups: "
                             "a Parquet row group's ordinal is a 16-bit number")
        _put_struct(out, _moved_row_group(rg, shift, first_ordinal + i))
    rows = meta.get(_FMD_NUM_ROWS)
    return bytes(out), len(groups[2][1]) if groups else 0, rows[2] if rows else 0


def _list_header(n: int, et: int) -> bytes:
    out = bytearray()
    if n < 15:
        out.append(n << 4 | et)
    else:
        out.append(0xF0 | et)
        _put_uvarint(out, n)
    return bytes(out)


def encode_part(schema: pa.Schema, options: dict, batch: pa.RecordBatch | None) -> pa.Buffer:
    """One record batch (or none) as a complete Parquet file in memory, one row group.

    Releases the GIL while it encodes; call it on any thread.
    """
    sink = pa.BufferOutputStream()
    _write_part(sink, schema, options, batch)
    return sink.getvalue()


def _write_part(sink, schema: pa.Schema, options: dict, batch: pa.RecordBatch | None) -> None:
    writer = pq.ParquetWriter(sink, schema, **options)
    try:
        if batch is not None:
            writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
    finally:
        writer.close()


class JoinedFile:
    """Parts from :func:`encode_part` appended to an open binary file, in order; then one footer.

    :meth:`add` takes part ``i`` from any thread, in any order, and appends every part whose
    predecessors are in (so the thread that completes a run of parts does the writing). After
    an error nothing more is appended, and every later call re-raises it. ``on_append(size)`` is
    called, under the lock, with the file's size after each append.
    """

    def __init__(self, fh, on_append=None):
        self._fh = fh
        self._on_append = on_append
        self._lock = threading.Lock()
        self._ready: dict[int, pa.Buffer] = {}
        self._next = 0
        self._size = 0
        self._template: Struct | None = None  # the first part's footer, without row groups
        self._row_groups: list[bytes] = []  # each part's row groups, encoded and moved
        self._n_groups = 0
        self._rows = 0
        self._error: BaseException | None = None
        self._fh.write(MAGIC)
        self._fh.flush()
        self._size = len(MAGIC)

    @property
    def parts(self) -> int:
        """How many parts are in the file."""
        return self._next

    def add(self, index: int, part: pa.Buffer) -> None:
        with self._lock:
            if self._error is not None:
                raise self._error
            self._ready[index] = part
            try:
                while self._next in self._ready:
                    self._append(self._ready.pop(self._next))
                    self._next += 1
            except BaseException as exc:
                self._error = exc
                self._ready.clear()
                raise

    def _append(self, part: pa.Buffer) -> None:
        n_footer = struct.unpack("<I", part[-8:-4].to_pybytes())[0]
        if len(part) < 12 + n_footer or part[:4].to_pybytes() != MAGIC or part[-4:].to_pybytes() != MAGIC:
            raise ValueError("parquet_join: a part is not a whole Parquet file")
        footer = np.frombuffer(part, dtype=np.uint8, count=n_footer, offset=len(part) - 8 - n_footer)
        shift = self._size - len(MAGIC)
        groups, n_groups, rows = moved_row_groups(footer, shift, self._n_groups)
        if self._template is None:  # (the schema and key-value metadata, once per file)
            self._template = decode_footer(part)
        body = memoryview(part)[len(MAGIC):len(part) - 8 - n_footer]
        self._fh.write(body)
        self._fh.flush()
        self._size += len(body)
        self._row_groups.append(groups.tobytes())
        self._n_groups += n_groups
        self._rows += rows
        if self._on_append is not None:
            self._on_append(self._size)

    def close(self, metadata: dict[str, str] | None = None) -> int:
        """Write the footer (``metadata`` added to the key-value metadata) and flush; the file's size.

        There must be at least one part (encode one of no rows for an empty file)."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._ready or self._template is None:
                raise RuntimeError("parquet_join: close() with parts missing or none added")
            meta = Struct(list(f) for f in self._template)
            # as Arrow adds key-value metadata: the added pairs first, then the others
            added = [Struct([[1, _BINARY, k.encode()], [2, _BINARY, v.encode()]]) for k, v in (metadata or {}).items()]
            old = meta.get(_FMD_KV)
            keys = {e[0][2] for e in added}
            kv = added + [e for e in (old[2][1] if old else []) if e[0][2] not in keys]
            _set(meta, _FMD_NUM_ROWS, _I64, self._rows)
            _set(meta, _FMD_ROW_GROUPS, _LIST, Raw(_list_header(self._n_groups, _STRUCT) + b"".join(self._row_groups)))
            if kv:
                _set(meta, _FMD_KV, _LIST, (_STRUCT, kv))
            tail = encode_footer(meta)
            self._fh.write(tail)
            self._fh.flush()
            self._size += len(tail)
            self._error = RuntimeError("parquet_join: the file is closed")
            return self._size


def _set(meta: Struct, fid: int, t: int, value) -> None:
    """Set field ``fid`` of ``meta``, inserted in field-id order when absent."""
    f = meta.get(fid)
    if f is not None:
        f[1], f[2] = t, value
        return
    at = next((i for i, g in enumerate(meta) if g[0] > fid), len(meta))
    meta.insert(at, [fid, t, value])
