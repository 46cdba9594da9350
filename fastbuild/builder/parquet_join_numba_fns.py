"""numba kernel of :mod:`fastbuild.builder.parquet_join`: a footer's row groups, moved, in one pass.

:func:`moved_row_groups` is the public function (it validates and raises); the private kernel
sees only arrays. Its slow, obviously-correct twin is the decode / move / encode path of
:mod:`~fastbuild.builder.parquet_join` (``Struct`` objects, :func:`moved_row_groups_slow`), and
``tests/kernels/test_parquet_join_kernel.py`` holds the two to the same bytes on footers pyarrow
writes.
"""

from __future__ import annotations

import numpy as np

from fastbuild_kernels import kernel

# Thrift compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT, _UUID = range(14)

# status codes of the kernel
OK, MALFORMED, NO_ROOM, PAGE_INDEX, BLOOM_FILTER, ENCRYPTED, ORDINAL_RANGE, COUNT = 0, -1, -2, -3, -4, -5, -6, -7
MESSAGES = {
    MALFORMED: "the footer is not valid Thrift compact protocol",
    PAGE_INDEX: "a column chunk has a column or offset index, which lies outside its row group; write without it",
    BLOOM_FILTER: "a column chunk has a bloom filter, which lies outside its row group; write without it",
    ENCRYPTED: "a column chunk is encrypted",
    ORDINAL_RANGE: "more than 32,767 row groups: a Parquet row group's ordinal is a 16-bit number",
}


def moved_row_groups(footer: np.ndarray, shifts, ordinals) -> tuple[np.ndarray, np.ndarray, int]:
    """The row groups of a Parquet footer, re-encoded with their file offsets moved.

    Parameters
    ----------
    footer : numpy.ndarray
        The encoded FileMetaData (``uint8``, the bytes between a file's data and its length).
    shifts : numpy.ndarray
        Bytes added to every offset of each row group, one per row group in the footer's order
        (``RowGroup.file_offset``, ``ColumnChunk.file_offset`` when set, and the data, index and
        dictionary page offsets of each column chunk); ``int64``, >= 0.
    ordinals : numpy.ndarray
        Each row group's ordinal in the joined file (``RowGroup.ordinal``, where it is written:
        Arrow writes it only when it encrypts); ``int64``, >= 0, at most 32,767 where written.

    Returns
    -------
    tuple
        ``(data, ends, num_rows)``: the encoded row groups one after another (what follows the
        header of FileMetaData's ``row_groups`` list), where each ends in ``data``, and the
        footer's ``num_rows``.

    Raises
    ------
    TypeError
        ``footer`` is not a 1-D ``uint8`` array.
    ValueError
        The footer is not valid, holds another number of row groups than ``shifts``, a column
        chunk has data outside its row group (page index, bloom filter, encryption), or an
        ordinal to write is past 32,767.
    """
    if not isinstance(footer, np.ndarray) or footer.dtype != np.uint8 or footer.ndim != 1:
        raise TypeError("moved_row_groups: footer must be a 1-D uint8 array")
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    ordinals = np.ascontiguousarray(ordinals, dtype=np.int64)
    if shifts.ndim != 1 or shifts.shape != ordinals.shape:
        raise ValueError(f"moved_row_groups: shifts and ordinals must be 1-D of one length, got {shifts.shape} "
                         f"and {ordinals.shape}")
    if (shifts < 0).any() or (ordinals < 0).any():
        raise ValueError("moved_row_groups: shifts and ordinals must be >= 0")
    room = 2 * footer.size + 64
    ends = np.zeros(shifts.size, dtype=np.int64)
    while True:
        out = np.empty(room, dtype=np.uint8)
        status, n, n_groups, num_rows = _moved_row_groups(footer, shifts, ordinals, out, ends)
        if status == OK and n_groups == shifts.size:
            return out[:n], ends, int(num_rows)
        if status == OK or status == COUNT:
            raise ValueError(f"Parquet footer: it holds {'more' if status == COUNT else n_groups} row groups, "
                             f"{shifts.size} shifts given")
        if status != NO_ROOM:
            raise ValueError(f"Parquet footer: {MESSAGES[status]}")
        room *= 4


@kernel
def _uvarint(buf, pos):
    """(value, next position), or (0, -1) past the end or over 10 bytes."""
    value = np.int64(0)
    shift = 0
    while 0 <= pos < buf.size and shift < 70:
        b = np.int64(buf[pos])
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    return np.int64(0), -1


@kernel
def _skip_scalar(buf, pos, t):
    """The position after a scalar of type ``t`` at ``pos``; -2 for a container, -1 when malformed."""
    if t == _TRUE or t == _FALSE or t == _BYTE:  # (a bool inside a container: one byte)
        return pos + 1
    if t == _I16 or t == _I32 or t == _I64:
        return _uvarint(buf, pos)[1]
    if t == _DOUBLE:
        return pos + 8
    if t == _UUID:
        return pos + 16
    if t == _BINARY:
        size, pos = _uvarint(buf, pos)
        return pos + size if pos >= 0 else -1
    if t == _STRUCT or t == _LIST or t == _SET or t == _MAP:
        return -2
    return -1


@kernel
def _open(buf, pos, t, depth, mode, rem, ta, tb):
    """Push container ``t`` starting at ``pos``: (its first value's position, depth), or -1."""
    n = buf.size
    if depth == mode.size or pos >= n:
        return -1, depth
    mode[depth], rem[depth] = 0, 0
    if t == _MAP:
        size, pos = _uvarint(buf, pos)
        mode[depth], rem[depth] = 2, 2 * size
        if size > 0:
            if pos < 0 or pos >= n:
                return -1, depth
            ta[depth], tb[depth] = buf[pos] >> 4, buf[pos] & 0x0F
            pos += 1
    elif t != _STRUCT:
        head = np.int64(buf[pos])
        size, pos = _uvarint(buf, pos + 1) if head >> 4 == 15 else (head >> 4, pos + 1)
        mode[depth], rem[depth], ta[depth] = 1, size, head & 0x0F
    return pos, depth + 1


@kernel
def _next(buf, pos, depth, mode, rem, ta):
    """The type of the next value to read and its position, closing the containers that are
    complete: (type, position, depth); type -1 once depth is 0, -2 when malformed. ``ta[d]``
    is the element (or key) type of open container ``d``, ``ta[d + 64]`` a map's value type."""
    while depth > 0:
        d = depth - 1
        if mode[d] == 0:
            if pos < 0 or pos >= buf.size:
                return -2, pos, depth
            head = np.int64(buf[pos])
            pos += 1
            if head == _STOP:
                depth -= 1
                continue
            if head >> 4 == 0:
                pos = _uvarint(buf, pos)[1]
            cur = head & 0x0F
            if cur == _TRUE or cur == _FALSE:  # a bool field's value is its type
                continue
            return cur, pos, depth
        if rem[d] == 0:
            depth -= 1
            continue
        rem[d] -= 1
        cur = ta[d] if mode[d] == 1 or rem[d] % 2 == 1 else ta[d + mode.size]
        return cur, pos, depth
    return -1, pos, depth


@kernel
def _skip(buf, pos, t):
    """The position after a value of type ``t`` starting at ``pos`` (-1 when malformed)."""
    nxt = _skip_scalar(buf, pos, t)
    if nxt != -2:  # (no stack for a scalar)
        return nxt if nxt <= buf.size else -1
    # the open containers: mode 0 struct, 1 list/set (elements of type ta), 2 map (keys of type
    # ta, values of type ta[+64], alternating); rem counts the values left to read
    mode = np.zeros(64, np.int64)
    rem = np.zeros(64, np.int64)
    ta = np.zeros(128, np.int64)
    depth = 0
    cur = t
    while True:  # (nxt: the position after the value of type cur at pos, or -2 for a container)
        if nxt == -2:
            nxt, depth = _open(buf, pos, cur, depth, mode, rem, ta[:64], ta[64:])
        if nxt < 0 or nxt > buf.size:
            return -1
        cur, pos, depth = _next(buf, nxt, depth, mode, rem, ta)
        if cur == -1:
            return pos
        if cur == -2 or pos < 0:
            return -1
        nxt = _skip_scalar(buf, pos, cur)


@kernel
def _skip_field(buf, pos, t):
    """The position after the value of a struct field of type ``t`` (a bool field has none: its
    value is its type)."""
    if t == _TRUE or t == _FALSE:
        return pos
    return _skip(buf, pos, t)


@kernel
def _put_uvarint(out, at, value):
    """Write ``value`` (>= 0) as a varint at ``out[at]``; the next position (-1 without room)."""
    while True:
        if at >= out.size:
            return -1
        if value < 0x80:
            out[at] = value
            return at + 1
        out[at] = (value & 0x7F) | 0x80
        value >>= 7
        at += 1


@kernel
def _field(buf, pos, last):
    """Read a struct field header: (field id, type, next position); type 0 at the stop byte, -1
    when malformed."""
    if pos < 0 or pos >= buf.size:
        return 0, -1, -1
    head = np.int64(buf[pos])
    pos += 1
    if head == _STOP:
        return 0, 0, pos
    t = head & 0x0F
    delta = head >> 4
    if delta:
        return last + delta, t, pos
    z, pos = _uvarint(buf, pos)
    if pos < 0:
        return 0, -1, -1
    return (z >> 1) ^ -(z & 1), t, pos


@kernel
def _patch(buf, out, at, copied, start, end, value):
    """Copy ``buf[copied:start]`` to ``out[at:]``, then ``value`` (>= 0) as a zigzag varint in
    place of ``buf[start:end]``: the new ``at`` (-1 without room); the caller's ``copied`` becomes
    ``end``."""
    k = start - copied
    if at + k > out.size:
        return -1
    out[at:at + k] = buf[copied:start]
    return _put_uvarint(out, at + k, value << 1)


@kernel
def _shifted(buf, out, pos, at, copied, shift, keep_zero):
    """Re-encode the i64 at ``pos`` plus ``shift`` (left as it is when 0 and ``keep_zero``):
    (status, position after it, at, copied)."""
    z, end = _uvarint(buf, pos)
    if end < 0:
        return MALFORMED, end, at, copied
    if z == 0 and keep_zero:
        return OK, end, at, copied
    value = ((z >> 1) ^ -(z & 1)) + shift
    if value < 0:  # (an offset is never negative)
        return MALFORMED, end, at, copied
    at = _patch(buf, out, at, copied, pos, end, value)
    return (NO_ROOM if at < 0 else OK), end, at, end


@kernel
def _list_head(buf, pos):
    """(element count, element type, position after the header); type -1 when malformed."""
    if pos < 0 or pos >= buf.size:
        return 0, -1, -1
    head = np.int64(buf[pos])
    if head >> 4 != 15:
        return head >> 4, head & 0x0F, pos + 1
    count, end = _uvarint(buf, pos + 1)
    return count, (head & 0x0F if end >= 0 else -1), end


# what the walk of a row group does with a field: structs it walks, and the action per field
_RG, _CC_LIST, _CC, _CMD = 0, 1, 2, 3
_SKIP, _SHIFT, _SHIFT_SET, _ORDINAL, _INTO_LIST, _INTO_STRUCT = 0, 1, 2, 3, 4, 5


@kernel
def _action(struct, fid, t):
    """What to do with field ``fid`` of type ``t`` in a RowGroup (``_RG``), ColumnChunk (``_CC``)
    or ColumnMetaData (``_CMD``): one of the actions above, or a status (< 0) to stop with."""
    if struct == _RG:
        if fid == 1 and t == _LIST:  # columns
            return _INTO_LIST
        if fid == 5 and t == _I64:  # file_offset
            return _SHIFT
        if fid == 7 and t == _I16:  # ordinal
            return _ORDINAL
    elif struct == _CC:
        if fid == 4 or fid == 6:  # offset index, column index
            return PAGE_INDEX
        if fid == 8 or fid == 9:
            return ENCRYPTED
        if fid == 3 and t == _STRUCT:  # meta_data
            return _INTO_STRUCT
        if fid == 2 and t == _I64:  # file_offset (deprecated; Arrow writes 0, which stays)
            return _SHIFT_SET
    else:
        if fid == 14:
            return BLOOM_FILTER
        if 9 <= fid <= 11 and t == _I64:  # data, index and dictionary page offsets
            return _SHIFT
    return _SKIP


@kernel
def _row_group(buf, out, pos, at, copied, shift, ordinal):
    """One RowGroup struct from ``pos``: offsets moved, ordinal set. (status, pos, at, copied)

    Walks RowGroup -> its list of ColumnChunk -> each one's ColumnMetaData with a stack of the
    structs (and the list) open; everything else is skipped."""
    struct = np.zeros(4, np.int64)
    last = np.zeros(4, np.int64)
    left = np.zeros(4, np.int64)  # column chunks left in the list
    d = 0
    while d >= 0:
        if struct[d] == _CC_LIST:
            if left[d] == 0:
                d -= 1
            else:
                left[d] -= 1
                d += 1
                struct[d], last[d] = _CC, 0
            continue
        fid, t, pos = _field(buf, pos, last[d])
        if t <= 0:
            if t < 0:
                return MALFORMED, pos, at, copied
            d -= 1
            continue
        last[d] = fid
        act = _action(struct[d], fid, t)
        status = act if act < 0 else OK
        if act == _SHIFT or act == _SHIFT_SET:
            status, pos, at, copied = _shifted(buf, out, pos, at, copied, shift, act == _SHIFT_SET)
        elif act == _ORDINAL:
            end = _uvarint(buf, pos)[1]
            status = ORDINAL_RANGE if ordinal > 32767 else MALFORMED if end < 0 else OK
            if status == OK:
                at = _patch(buf, out, at, copied, pos, end, ordinal)
                status, pos, copied = (NO_ROOM if at < 0 else OK), end, end
        elif act == _INTO_LIST:
            left[d + 1], et, pos = _list_head(buf, pos)
            status = OK if et == _STRUCT else MALFORMED
            d += 1
            struct[d] = _CC_LIST
        elif act == _INTO_STRUCT:
            d += 1
            struct[d], last[d] = _CMD, 0
        elif act == _SKIP:
            pos = _skip_field(buf, pos, t)
            status = MALFORMED if pos < 0 else OK
        if status != OK:
            return status, pos, at, copied
    return OK, pos, at, copied


@kernel
def _moved_row_groups(buf, shifts, ordinals, out, ends):
    """Kernel of :func:`moved_row_groups`: (status, bytes written to ``out``, row groups, num_rows);
    ``ends[i]``: where row group ``i`` ends in ``out``.

    Copies the bytes of FileMetaData's ``row_groups`` elements to ``out``, re-encoding the
    varints it changes; everything else is skipped.
    """
    pos, last, at, n_groups, num_rows = 0, 0, 0, 0, 0
    while True:
        fid, t, pos = _field(buf, pos, last)
        if t < 0:
            return MALFORMED, 0, 0, 0
        if t == 0:
            return (OK if pos == buf.size else MALFORMED), at, n_groups, num_rows
        last = fid
        if fid == 3 and t == _I64:
            z, pos = _uvarint(buf, pos)
            num_rows = (z >> 1) ^ -(z & 1)
        elif fid == 4 and t == _LIST:
            count, et, pos = _list_head(buf, pos)
            if et != _STRUCT:
                return MALFORMED, 0, 0, 0
            copied = pos  # buf[:copied] is in out, or not wanted
            for _ in range(count):
                if n_groups == shifts.size:
                    return COUNT, 0, 0, 0
                status, pos, at, copied = _row_group(buf, out, pos, at, copied, shifts[n_groups], ordinals[n_groups])
                if status != OK:
                    return status, 0, 0, 0
                if at + pos - copied > out.size:  # the rest of the row group, so that it ends here
                    return NO_ROOM, 0, 0, 0
                out[at:at + pos - copied] = buf[copied:pos]
                at += pos - copied
                copied = pos
                ends[n_groups] = at
                n_groups += 1
        else:
            pos = _skip_field(buf, pos, t)
        if pos < 0:
            return MALFORMED, 0, 0, 0
