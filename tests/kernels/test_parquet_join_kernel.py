"""moved_row_groups (numba) vs its slow twin (decode / move / encode), and joined files vs one
ParquetWriter, byte for byte, on footers that pyarrow writes."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastbuild.builder import parquet_join as pj
from fastbuild.builder.parquet_join_numba_fns import moved_row_groups

SETTINGS = settings(max_examples=40, deadline=None)

COLUMN_TYPES = {
    "i64": pa.int64(), "f32": pa.float32(), "s": pa.string(), "ids": pa.list_(pa.int32()),
    "b": pa.bool_(), "u16": pa.uint16(),
}


def _table(rng: np.random.Generator, names: list[str], rows: int) -> pa.Table:
    cols = []
    for name in names:
        t = COLUMN_TYPES[name]
        if name == "s":
            values = [None if rng.random() < 0.1 else f"g{rng.integers(0, 5)}" for _ in range(rows)]
        elif name == "ids":
            values = [list(rng.integers(0, 4096, rng.integers(0, 6))) for _ in range(rows)]
        elif name == "b":
            values = list(rng.random(rows) < 0.5)
        else:
            values = rng.integers(0, 1000, rows)
        cols.append(pa.array(values, type=t))
    return pa.table(cols, names=names, metadata={"owner": "test"})


def _options(names: list[str], stats: bool) -> dict:
    return dict(compression="lz4", use_dictionary=["s"] if "s" in names else False,
                write_statistics=stats)


tables = st.tuples(
    st.lists(st.sampled_from(sorted(COLUMN_TYPES)), min_size=1, max_size=5, unique=True),
    st.lists(st.integers(0, 300), min_size=0, max_size=6),  # rows per record batch
    st.integers(0, 2**32), st.booleans())


@SETTINGS
@given(tables, st.integers(0, 2**40))
def test_kernel_equals_its_twin(case, seed2):
    names, sizes, seed, stats = case
    rng = np.random.default_rng(seed)
    table = _table(rng, names, sum(sizes))
    sink = pa.BufferOutputStream()  # one file of several row groups: the footer has them all
    with pq.ParquetWriter(sink, table.schema, **_options(names, stats)) as w:
        at = 0
        for m in sizes:
            if m:
                w.write_table(table.slice(at, m), row_group_size=m)
            at += m
    footer = pj.footer_of(sink.getvalue())
    n = sum(1 for m in sizes if m)
    rng2 = np.random.default_rng(seed2)
    shifts = rng2.integers(0, 2**40, n) * rng2.integers(0, 2, n)  # some 0
    ordinals = rng2.integers(0, 32768, n)
    data, ends, rows = moved_row_groups(footer, shifts, ordinals)
    assert (data.tobytes(), list(ends), rows) == pj.moved_row_groups_slow(footer.tobytes(), shifts, ordinals)
    assert rows == sum(sizes) and len(ends) == n
    with pytest.raises(ValueError, match=r"row groups, .* shifts given"):
        moved_row_groups(footer, np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64))


@SETTINGS
@given(tables, st.integers(1, 3), st.integers(0, 2**32))
def test_joined_row_groups_are_the_bytes_of_one_writer(case, n_encoders, seed2):
    """Row groups encoded by several writers and added in any order; key-value metadata added as
    Arrow adds it."""
    import io

    names, sizes, seed, stats = case
    sizes = [m for m in sizes if m]
    rng = np.random.default_rng(seed)
    table = _table(rng, names, sum(sizes))
    opts = _options(names, stats)
    batches, at = [], 0
    for m in sizes:
        batches.append(table.slice(at, m).combine_chunks().to_batches()[0])
        at += m
    sink = pa.BufferOutputStream()
    w = pq.ParquetWriter(sink, table.schema, **opts)
    for rb in batches:
        w.write_batch(rb, row_group_size=rb.num_rows)
    w.add_key_value_metadata({"stats": "{}", "owner": "replaced"})
    w.close()
    rng2 = np.random.default_rng(seed2)
    encoders = [pj.StreamEncoder(table.schema, opts) for _ in range(n_encoders)]
    done = []
    for i, rb in enumerate(batches):
        e = int(rng2.integers(0, n_encoders))
        chunks, start = encoders[e].encode(rb)
        done.append((i, chunks, e, start))
    out = io.BytesIO()
    joined = pj.JoinedFile(out)
    for i in rng2.permutation(len(done)):
        joined.add(done[i][0], *done[i][1:])
    template = pj.empty_footer(table.schema, opts)
    size = joined.close(template, {e: enc.close() for e, enc in enumerate(encoders)},
                        {"stats": "{}", "owner": "replaced"})
    assert out.getvalue() == sink.getvalue().to_pybytes() and size == len(out.getvalue())


def test_a_damaged_footer_is_a_value_error_not_a_crash():
    rng = np.random.default_rng(5)
    table = _table(rng, ["i64", "s", "ids"], 500)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **_options(["s"], True)) as w:
        for a in range(0, 500, 100):
            w.write_table(table.slice(a, 100), row_group_size=100)
    footer = pj.footer_of(sink.getvalue()).copy()
    five = (np.full(5, 10), np.arange(5))
    for cut in range(0, footer.size, 7):  # truncated anywhere
        with pytest.raises(ValueError, match="Parquet footer"):
            moved_row_groups(footer[:cut], *five)
    for _ in range(300):  # bytes changed at random: an error or some output, never a crash
        bad = footer.copy()
        bad[rng.integers(0, bad.size, 3)] = rng.integers(0, 256, 3)
        try:
            moved_row_groups(bad, *five)
        except ValueError:
            pass


def test_what_lies_outside_the_row_groups_is_refused():
    table = _table(np.random.default_rng(1), ["i64"], 50)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, write_page_index=True) as w:
        w.write_table(table)
    footer = pj.footer_of(sink.getvalue())
    with pytest.raises(ValueError, match="column or offset index"):
        moved_row_groups(footer, [0], [0])
    with pytest.raises(ValueError, match="offset index"):
        pj.moved_row_groups_slow(footer.tobytes(), [0], [0])


def test_ordinals_are_renumbered_and_refused_past_16_bits():
    """Arrow writes no RowGroup.ordinal (field 7) unless it encrypts; a footer with them is made
    here with the twin's codec."""
    table = _table(np.random.default_rng(2), ["i64"], 20)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema) as w:
        w.write_table(table, row_group_size=10)
    meta = pj.decode_footer(sink.getvalue())
    for i, rg in enumerate(meta.get(4)[2][1]):
        rg.append([7, 4, i])  # (i16)
    encoded = pj.encode_footer(meta)
    footer = np.frombuffer(encoded[:-8], dtype=np.uint8)
    data, ends, rows = moved_row_groups(footer, [5, 7], [32767, 3])
    assert (data.tobytes(), list(ends), rows) == pj.moved_row_groups_slow(footer.tobytes(), [5, 7], [32767, 3])
    first, end = pj._struct(memoryview(data.tobytes()), 0)
    second, _ = pj._struct(memoryview(data.tobytes()), end)
    assert end == ends[0] and (first.get(7)[2], second.get(7)[2]) == (32767, 3)
    assert (first.get(5)[2], second.get(5)[2]) == (4 + 5, meta.get(4)[2][1][1].get(5)[2] + 7)
    for fn in (moved_row_groups, lambda f, s, o: pj.moved_row_groups_slow(f.tobytes(), s, o)):
        with pytest.raises(ValueError, match="32,767 row groups"):
            fn(footer, [0, 0], [1, 32768])


def test_bad_arguments():
    with pytest.raises(TypeError, match="uint8"):
        moved_row_groups(np.zeros(4, np.int32), 0, 0)
    with pytest.raises(ValueError, match=">= 0"):
        moved_row_groups(np.zeros(4, np.uint8), [-1], [0])
    with pytest.raises(ValueError, match="one length"):
        moved_row_groups(np.zeros(4, np.uint8), [1, 2], [0])


# fields that pyarrow does not write but the Thrift compact protocol allows, to be skipped (or
# moved, or refused) by the kernel exactly as by its twin
def _extra_value(draw, t, depth=0):
    if t in (pj._TRUE, pj._FALSE):
        return None
    if t in (pj._I16, pj._I32, pj._I64):
        return draw(st.integers(-(2**15), 2**15 - 1))
    if t == pj._BYTE:
        return draw(st.binary(min_size=1, max_size=1))
    if t == pj._DOUBLE:
        return draw(st.binary(min_size=8, max_size=8))
    if t == pj._UUID:
        return draw(st.binary(min_size=16, max_size=16))
    if t == pj._BINARY:
        return draw(st.binary(max_size=20))
    leaf = st.sampled_from([pj._I32, pj._BINARY, pj._DOUBLE] + ([pj._STRUCT] if depth < 2 else []))
    if t in (pj._LIST, pj._SET):
        et = draw(st.sampled_from([pj._I32, pj._BINARY, pj._STRUCT, pj._TRUE] if depth < 2 else [pj._I64]))
        n = draw(st.sampled_from([0, 1, 3, 15, 17]))
        if et == pj._TRUE:  # a bool inside a container is one byte
            return (et, [draw(st.sampled_from([1, 2])) for _ in range(n)])
        return (et, [_extra_value(draw, et, depth + 1) for _ in range(n)])
    if t == pj._MAP:
        n = draw(st.integers(0, 3))
        kt, vt = draw(leaf), draw(leaf)
        if n == 0:
            return (0, 0, [])
        return (kt, vt, [(_extra_value(draw, kt, depth + 1), _extra_value(draw, vt, depth + 1)) for _ in range(n)])
    if t == pj._STRUCT:
        return pj.Struct([[fid, ft, _extra_value(draw, ft, depth + 1)]
                          for fid, ft in sorted(draw(st.dictionaries(st.integers(1, 40), st.sampled_from(
                              [pj._TRUE, pj._FALSE, pj._I32, pj._BINARY, pj._LIST]), max_size=3)).items())])
    raise AssertionError(t)


@st.composite
def _extra_fields(draw, avoid):
    types = st.sampled_from([pj._TRUE, pj._FALSE, pj._BYTE, pj._I16, pj._I32, pj._I64, pj._DOUBLE, pj._BINARY,
                             pj._LIST, pj._SET, pj._MAP, pj._STRUCT, pj._UUID])
    fids = st.integers(1, 120).filter(lambda f: f not in avoid)
    return [[fid, t, _extra_value(draw, t)] for fid, t in draw(st.dictionaries(fids, types, max_size=3)).items()]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_kernel_equals_its_twin_on_fields_pyarrow_does_not_write(data):
    """Bool fields (no value byte), maps, sets, nested and long lists, UUIDs, long-form field ids
    and mistyped or negative fields, at every level the kernel walks."""
    table = _table(np.random.default_rng(3), ["i64", "s", "ids"], 40)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **_options(["s"], True)) as w:
        w.write_table(table, row_group_size=20)
    meta = pj.decode_footer(sink.getvalue())

    def inject(s: pj.Struct, avoid) -> None:
        s.extend(data.draw(_extra_fields(avoid)))
        s.sort(key=lambda f: f[0]) if data.draw(st.booleans()) else None  # else out of order: long-form ids

    inject(meta, {4})
    for rg in meta.get(4)[2][1]:
        inject(rg, {1})
        for cc in rg.get(1)[2][1]:
            inject(cc, {3})
            inject(cc.get(3)[2], set())
    footer = np.frombuffer(pj.encode_footer(meta)[:-8], dtype=np.uint8)
    shifts, ordinals = [7, 1000], [0, 1]
    try:
        want = pj.moved_row_groups_slow(footer.tobytes(), shifts, ordinals)
    except ValueError as exc:
        with pytest.raises(ValueError) as got:
            moved_row_groups(footer, shifts, ordinals)
        assert str(got.value) == str(exc)
        return
    data_, ends, rows = moved_row_groups(footer, shifts, ordinals)
    assert (data_.tobytes(), list(ends), rows) == want
