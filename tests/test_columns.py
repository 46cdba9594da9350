"""builder.columns: chunks of rows -> one record batch; columns constant over a chunk (consts)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fastbuild.builder.columns import Chunk, ColumnBuffer, to_record_batch

SCHEMA = pa.schema([("position", pa.int64()), ("gene_id", pa.string()), ("gene_length", pa.int64()),
                    ("n_transcripts", pa.int32()), ("splice_density_per_kb", pa.float32()),
                    ("base_model_training_chrom", pa.bool_())])
GENES = [("G1", 100, 2, 1.5, True), ("G2", 7, 1, 0.25, None), ("G3", 55, 3, 2.0, False)]


def _chunks(sizes):
    out, pos = [], 0
    for (gid, length, nt, dens, train), m in zip(GENES, sizes, strict=True):
        out.append(Chunk(m, {"position": np.arange(pos, pos + m, dtype=np.int64)}, {},
                         {"gene_id": gid, "gene_length": length, "n_transcripts": nt,
                          "splice_density_per_kb": dens, "base_model_training_chrom": train}))
        pos += m
    return out


def _expected(sizes):
    rows = []
    for (gid, length, nt, dens, train), m in zip(GENES, sizes, strict=True):
        rows += [(gid, length, nt, dens, train)] * m
    return rows


def test_numeric_and_boolean_consts_are_repeated_with_their_nulls():
    sizes = [3, 2, 4]
    rb = to_record_batch(SCHEMA, _chunks(sizes))
    assert rb.schema == SCHEMA and rb.num_rows == 9
    got = list(zip(*(rb.column(n).to_pylist() for n in SCHEMA.names[1:]), strict=True))
    assert got == _expected(sizes)
    assert rb.column("base_model_training_chrom").null_count == 2
    assert rb.column("gene_length").null_count == 0


def test_all_null_and_no_null_consts():
    rb = to_record_batch(SCHEMA, _chunks([2, 0, 1])[:1])
    assert rb.column("base_model_training_chrom").to_pylist() == [True, True]
    chunks = _chunks([1, 2, 1])
    for c in chunks:
        c.consts["base_model_training_chrom"] = None
    rb = to_record_batch(SCHEMA, chunks)
    assert rb.column("base_model_training_chrom").null_count == 4 and rb.schema == SCHEMA


def test_consts_survive_chunks_split_across_record_batches():
    batches = []
    buf = ColumnBuffer(SCHEMA, 4, batches.append)
    sizes = [3, 5, 2]
    for c in _chunks(sizes):
        buf.add(c)
    buf.flush()
    assert [b.num_rows for b in batches] == [4, 4, 2]
    table = pa.Table.from_batches(batches)
    got = list(zip(*(table.column(n).to_pylist() for n in SCHEMA.names[1:]), strict=True))
    assert got == _expected(sizes) and table["position"].to_pylist() == list(range(10))


def test_blocks_are_columns_of_their_rows_across_record_batches():
    """A block (one row per column name) gives the same columns as separate arrays would, when
    chunks are split across record batches (views of its columns) or joined (one concatenate)."""
    schema = pa.schema([("position", pa.int64()), ("a", pa.float32()), ("b", pa.float32()), ("c", pa.uint16())])
    chunks, pos = [], 0
    for m in (3, 5, 2, 6):
        block = np.stack([np.arange(pos, pos + m) + 0.5, np.arange(pos, pos + m) * 2.0]).astype(np.float32)
        counts = (np.arange(pos, pos + m) % 7).astype(np.uint16)[None, :]
        chunks.append(Chunk(m, {"position": np.arange(pos, pos + m, dtype=np.int64)},
                            blocks={("a", "b"): block, ("c",): counts}))
        pos += m
    for rows in (1, 4, 7, 100):
        batches = []
        buf = ColumnBuffer(schema, rows, batches.append)
        for c in chunks:
            buf.add(c)
        buf.flush()
        table = pa.Table.from_batches(batches)
        assert table.schema == schema and table.num_rows == pos
        p = np.arange(pos)
        assert table["position"].to_pylist() == p.tolist()
        assert table["a"].to_pylist() == (p + 0.5).tolist() and table["b"].to_pylist() == (p * 2.0).tolist()
        assert table["c"].to_pylist() == (p % 7).tolist()
