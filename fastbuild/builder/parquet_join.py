"""Parquet row groups encoded on several threads, joined into one file.

pyarrow's ``ParquetWriter`` encodes a row group's columns one after another on one thread (its
C++ writer can do better, but pyarrow 26 does not bind that path), and at k = 6 a sparse batch
file's k-mer list columns keep that thread busy for most of a build. So each encoding thread has
a writer of its own (:class:`StreamEncoder`, writing into memory), each record batch becomes one
row group on whichever thread is free, and :class:`JoinedFile` appends the row groups' bytes to
the real file in order and writes one footer for all of them.

A row group's pages hold no file offsets, so its bytes are copied as they are; only the footers
(Thrift compact protocol) name offsets, and each row group's are moved by where its bytes land:
by a numba kernel (:func:`~fastbuild.builder.parquet_join_numba_fns.moved_row_groups`), whose
slow twin decodes footers into :class:`Struct` objects and encodes them again without loss. The
joined file is byte for byte the one a single ``ParquetWriter`` writes from the same record
batches with the same options (``tests/kernels/test_parquet_join_kernel.py``,
``tests/test_writer_thread.py``). Column and offset indexes, bloom filters and encryption, which
put data outside the row groups, are refused.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.builder import parquet_join_numba_fns as kfns
from fastbuild.builder.parquet_join_numba_fns import (  # Thrift compact protocol types
    _BINARY,
    _BYTE,
    _DOUBLE,
    _FALSE,
    _I16,
    _I32,
    _I64,
    _LIST,
    _MAP,
    _SET,
    _STOP,
    _STRUCT,
    _TRUE,
    _UUID,
    moved_row_groups,
)

MAGIC = b"PAR1"

_FIXED = {_BYTE: 1, _DOUBLE: 8, _UUID: 16}

# field ids of parquet.thrift that this module reads or changes
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_KV = 3, 4, 5
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META = 2, 3
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
        _put_list_header(out, len(items), et)
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


def _put_list_header(out: bytearray, n: int, et: int) -> None:
    if n < 15:
        out.append(n << 4 | et)
    else:
        out.append(0xF0 | et)
        _put_uvarint(out, n)


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
    return _decoded(footer_of(data))


def _decoded(footer) -> Struct:
    """An encoded FileMetaData (the bytes of :func:`footer_of`), decoded."""
    mv = memoryview(footer).cast("B")
    meta, end = _struct(mv, 0)
    if end != len(mv):
        raise ValueError("Parquet footer: length does not match its contents")
    return meta


def encode_footer(meta: Struct) -> bytes:
    """The tail of a Parquet file for ``meta``: the encoded FileMetaData, its length, PAR1."""
    out = bytearray()
    _put_struct(out, meta)
    return bytes(out) + struct.pack("<I", len(out)) + MAGIC


def _moved_row_group(rg: Struct, shift: int, ordinal: int) -> Struct:
    """``rg`` with every offset moved by ``shift`` bytes and its ordinal set (in place); the
    fields the kernel moves (by id and type), refusing what it refuses with its messages."""
    def moved(f):
        f[2] += shift
        if f[2] < 0:
            raise ValueError(f"Parquet footer: {kmsg[kfns.MALFORMED]}")

    kmsg = kfns.MESSAGES
    for f in rg:
        if f[0] == _RG_FILE_OFFSET and f[1] == _I64:
            moved(f)
        elif f[0] == _RG_ORDINAL and f[1] == _I16:
            if ordinal > 32767:
                raise ValueError(f"Parquet footer: {kmsg[kfns.ORDINAL_RANGE]}")
            f[2] = ordinal
        elif f[0] == _RG_COLUMNS and f[1] == _LIST:
            for cc in f[2][1]:
                for g in cc:
                    if g[0] in (4, 6):  # offset index, column index
                        raise ValueError(f"Parquet footer: {kmsg[kfns.PAGE_INDEX]}")
                    if g[0] in (8, 9):
                        raise ValueError(f"Parquet footer: {kmsg[kfns.ENCRYPTED]}")
                    if g[0] == _CC_FILE_OFFSET and g[1] == _I64 and g[2] != 0:  # (deprecated; Arrow writes 0)
                        moved(g)
                    elif g[0] == _CC_META and g[1] == _STRUCT:
                        for h in g[2]:
                            if h[0] == _CMD_BLOOM:
                                raise ValueError(f"Parquet footer: {kmsg[kfns.BLOOM_FILTER]}")
                            if h[0] in _CMD_OFFSETS and h[1] == _I64:
                                moved(h)
    return rg


def moved_row_groups_slow(footer: bytes, shifts, ordinals) -> tuple[bytes, list[int], int]:
    """The twin of :func:`~fastbuild.builder.parquet_join_numba_fns.moved_row_groups`, by
    decoding the footer into :class:`Struct` objects, moving them, and encoding them again."""
    meta = _decoded(footer)
    groups = meta.get(_FMD_ROW_GROUPS)
    groups = groups[2][1] if groups else []
    if len(groups) != len(shifts):
        raise ValueError(f"Parquet footer: it holds {len(groups)} row groups, {len(shifts)} shifts given")
    out, ends = bytearray(), []
    for rg, shift, ordinal in zip(groups, shifts, ordinals, strict=True):
        _put_struct(out, _moved_row_group(rg, int(shift), int(ordinal)))
        ends.append(len(out))
    rows = meta.get(_FMD_NUM_ROWS)
    return bytes(out), ends, rows[2] if rows else 0


def empty_footer(schema: pa.Schema, options: dict) -> np.ndarray:
    """The encoded FileMetaData of a file of no rows written with ``schema`` and ``options``: the
    template of a joined file's footer (its schema, key-value metadata and writer)."""
    sink = pa.BufferOutputStream()
    pq.ParquetWriter(sink, schema, **options).close()
    return footer_of(sink.getvalue())


def footer_of(data) -> np.ndarray:
    """The encoded FileMetaData of a whole Parquet file's bytes (``uint8``, no copy)."""
    mv = memoryview(data).cast("B")
    if len(mv) < 12 or bytes(mv[:4]) != MAGIC or bytes(mv[-4:]) != MAGIC:
        raise ValueError("not a Parquet file (no PAR1 magic at both ends)")
    n = struct.unpack("<I", mv[-8:-4])[0]
    if n > len(mv) - 12:
        raise ValueError("Parquet footer: longer than the file")
    return np.frombuffer(mv, dtype=np.uint8, count=n, offset=len(mv) - 8 - n)


class _Chunks:
    """A write-only stream for pyarrow that keeps what is written as a list of bytes."""

    closed = False

    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        chunk = bytes(data)  # (pyarrow's buffer is valid only during the call)
        self.chunks.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def take(self) -> list[bytes]:
        out, self.chunks = self.chunks, []
        return out

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class StreamEncoder:
    """One ``ParquetWriter`` for the record batches a thread encodes into a joined file.

    The writer writes into memory (:class:`_Chunks`), each record batch as one row group, and
    :meth:`encode` hands over that row group's bytes and where they lie in its stream; its
    footer, which lists them with those positions, comes from :meth:`close`. One writer kept for
    the whole file rather than one per record batch: a new writer allocates its scratch buffers
    afresh, faulting their pages in again (about a fifth more page faults, and 12% more CPU time
    in the writing, at k = 6 sparse).
    """

    def __init__(self, schema: pa.Schema, options: dict):
        self._sink = _Chunks()
        # pages pass through a buffer of Arrow's: a few calls into Python per row group, not
        # two per page, each holding the GIL
        self._stream = pa.BufferedOutputStream(pa.PythonFile(self._sink, mode="w"), buffer_size=self.BUFFER)
        self._writer = pq.ParquetWriter(self._stream, schema, **options)
        self._flush()
        self._sink.take()  # (the PAR1 magic)

    BUFFER = 1 << 20

    def _flush(self) -> None:
        if not self._stream.closed:
            self._stream.flush()

    def encode(self, batch: pa.RecordBatch) -> tuple[list[bytes], int]:
        """``batch`` as a row group: (its bytes, its position in this encoder's stream)."""
        start = self._sink.size
        self._writer.write_batch(batch, row_group_size=max(batch.num_rows, 1))
        self._flush()
        return self._sink.take(), start

    def close(self) -> np.ndarray:
        """Close the writer; its encoded FileMetaData."""
        self._writer.close()
        self._flush()
        return footer_of(MAGIC + b"".join(self._sink.take()))


class JoinedFile:
    """Row groups from :class:`StreamEncoder` objects appended to an open binary file, in order;
    then one footer.

    :meth:`add` takes row group ``i`` from any thread, in any order, and appends every one whose
    predecessors are in (so the thread that completes a run does the writing). After an error
    nothing more is appended, and every later call re-raises it. ``on_append(size)`` is called,
    under the lock, with the file's size after each append.
    """

    def __init__(self, fh, on_append=None):
        self._fh = fh
        self._on_append = on_append
        self._lock = threading.Lock()
        self._ready: dict[int, tuple] = {}
        self._next = 0
        self._where: list[tuple[int, int, int]] = []  # per row group: (encoder, position there, position here)
        self._error: BaseException | None = None
        self._fh.write(MAGIC)
        self._fh.flush()
        self._size = len(MAGIC)

    @property
    def parts(self) -> int:
        """How many row groups are in the file."""
        return self._next

    def add(self, index: int, chunks: list[bytes], encoder: int, start: int) -> None:
        """Row group ``index``: its bytes, the encoder that wrote them (any hashable key) and where
        they start in its stream."""
        with self._lock:
            if self._error is not None:
                raise self._error
            self._ready[index] = (chunks, encoder, start)
            try:
                while self._next in self._ready:
                    chunks, encoder, start = self._ready.pop(self._next)
                    self._where.append((encoder, start, self._size))
                    for chunk in chunks:
                        self._fh.write(chunk)
                        self._size += len(chunk)
                    self._fh.flush()
                    self._next += 1
                    if self._on_append is not None:
                        self._on_append(self._size)
            except BaseException as exc:
                self._error = exc
                self._ready.clear()
                raise

    def close(self, template: np.ndarray, footers: dict, metadata: dict[str, str] | None = None) -> int:
        """Write the footer and flush; the file's size.

        Parameters
        ----------
        template : numpy.ndarray
            The footer of a file with the same schema and options and no rows
            (:func:`empty_footer`): its schema, key-value metadata and writer.
        footers : dict
            Encoder key -> its footer (:meth:`StreamEncoder.close`), for every encoder named in
            :meth:`add`.
        metadata : dict, optional
            Key-value metadata added as Arrow adds it (first, replacing pairs of the same key).
        """
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._ready:
                raise RuntimeError("parquet_join: close() with row groups missing")
            mine: dict = {}
            for i, (encoder, start, here) in enumerate(self._where):
                mine.setdefault(encoder, []).append((start, here, i))
            moved: list = [None] * len(self._where)
            rows = 0
            for encoder, groups in mine.items():
                groups.sort()
                shifts = np.array([here - start for start, here, _ in groups], dtype=np.int64)
                data, ends, n = moved_row_groups(footers[encoder], shifts, np.array([i for *_, i in groups]))
                rows += n
                data = data.tobytes()
                for (_, _, i), a, b in zip(groups, np.concatenate([[0], ends[:-1]]), ends, strict=True):
                    moved[i] = data[a:b]
            meta = _decoded(template)
            # as Arrow adds key-value metadata: the added pairs first, then the others
            added = [Struct([[1, _BINARY, k.encode()], [2, _BINARY, v.encode()]]) for k, v in (metadata or {}).items()]
            old = meta.get(_FMD_KV)
            keys = {e[0][2] for e in added}
            kv = added + [e for e in (old[2][1] if old else []) if e[0][2] not in keys]
            _set(meta, _FMD_NUM_ROWS, _I64, rows)
            head = bytearray()
            _put_list_header(head, len(moved), _STRUCT)
            _set(meta, _FMD_ROW_GROUPS, _LIST, Raw(bytes(head) + b"".join(moved)))
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
