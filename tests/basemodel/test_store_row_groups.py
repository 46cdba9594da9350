"""Score store chunks: one row group per gene, reads of only the wanted row groups, old chunks still read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastbuild.basemodel import ScoreStore
from fastbuild.coords import orient

REPO = Path(__file__).resolve().parents[2]
DEMO_STORE = REPO / "fastbuild" / "demo_data" / "scores"
IDENTITY = {"name": "fake", "digest": "0" * 64}


def _frames(rng, genes: pl.DataFrame):
    """Random score frames (gene_id, positions, scores [n, 3] as neither/acceptor/donor) of ``genes``."""
    out = []
    for row in genes.iter_rows(named=True):
        pos = np.arange(row["start"], row["end"] + 1, dtype=np.int64)
        out.append((row["gene_id"], pos, rng.dirichlet([1.0, 0.2, 0.2], pos.size).astype(np.float32)))
    return out


def _genes(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 400, n)
    starts = 1 + np.concatenate([[0], np.cumsum(lengths + rng.integers(-50, 100, n))[:-1]]).clip(0)
    return pl.DataFrame({"gene_id": [f"g{i:03d}" for i in range(n)], "chrom": "chr1",
                         "strand": ["+-"[i % 2] for i in range(n)], "start": starts, "end": starts + lengths - 1})


def _store(tmp_path, genes: pl.DataFrame, chunk_genes: int = 7, seed: int = 1) -> ScoreStore:
    """A store of ``genes`` in chunks of ``chunk_genes`` genes, written by ScoreStore.write_chunk."""
    store = ScoreStore.create(tmp_path / "s", IDENTITY)
    rng = np.random.default_rng(seed)
    chunks = []
    for lo in range(0, genes.height, chunk_genes):
        part = genes.slice(lo, chunk_genes)
        ids = part["gene_id"].to_list()
        rel = store.chunk_name("chr1", ids, int(part["start"].min()), int(part["end"].max()))
        store.write_chunk(rel, _frames(rng, part))
        chunks.append((rel, part))
    store.record_chunks(chunks)
    return store


def _rewrite_old_layout(path: Path) -> None:
    """Rewrite a chunk as the store wrote it before: one row group, no fastbuild.gene_rows."""
    table = pq.read_table(path)
    meta = {k: v for k, v in table.schema.metadata.items() if k not in (b"fastbuild.gene_rows", b"ARROW:schema")}
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd", use_dictionary=["gene_id"],
                   row_group_size=1 << 20)


def _whole(store: ScoreStore) -> dict:
    """gene_id -> (position, donor, acceptor, neither) from the raw chunk tables (the plain truth)."""
    out = {}
    for file in store.index()["file"].unique().to_list():
        df = pl.from_arrow(pq.read_table(store.path / file)).with_columns(pl.col("gene_id").cast(pl.Utf8))
        for (gid,), part in df.group_by(["gene_id"]):
            out[gid] = tuple(part[c].to_numpy() for c in ("position", "donor", "acceptor", "neither"))
    return out


def test_one_row_group_per_gene_and_the_gene_rows_record(tmp_path):
    genes = _genes(20)
    store = _store(tmp_path, genes)
    for file, part in store.index().group_by("file"):
        md = pq.read_metadata(store.path / file[0])
        ids = json.loads(md.metadata[b"fastbuild.genes"])
        rows = json.loads(md.metadata[b"fastbuild.gene_rows"])
        assert md.num_row_groups == len(ids) == len(rows)
        assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == rows
        lengths = dict(zip(part["gene_id"], part["n_rows"], strict=True))
        assert rows == [lengths[g] for g in ids]
        # statistics of gene_id and position only: a row group's gene and span
        stats = md.row_group(1).column(0).statistics
        assert stats.min == stats.max == ids[1]
        assert md.row_group(1).column(2).statistics is None


@pytest.mark.parametrize("old_layout", [False, True])
def test_reads_equal_the_chunk_tables(tmp_path, old_layout):
    genes = _genes(25, seed=3)
    store = _store(tmp_path, genes)
    if old_layout:
        for file in store.index()["file"].unique().to_list():
            _rewrite_old_layout(store.path / file)
            assert pq.read_metadata(store.path / file).num_row_groups == 1
    truth = _whole(store)
    order = genes.sample(fraction=1.0, shuffle=True, seed=5).head(11)
    for info, donor, acceptor, neither in store.iter_gene_scores(order):
        t = truth[info["gene_id"]]
        for got, want in zip((donor, acceptor, neither), t[1:], strict=True):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got.view(np.uint32), orient(want, info["strand"]).view(np.uint32))
    loaded = store.load(order["gene_id"].to_list(), as_dict=True)
    assert list(loaded) == order["gene_id"].to_list()
    for gid, df in loaded.items():
        for k, name in enumerate(("position", "donor", "acceptor", "neither")):
            np.testing.assert_array_equal(df[name].to_numpy(), truth[gid][k])


def test_a_batch_reads_only_its_genes_row_groups(tmp_path, monkeypatch):
    genes = _genes(30, seed=4)
    store = _store(tmp_path, genes, chunk_genes=30)
    read = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, *args, **kwargs):
        read.append(list(row_groups))
        return original(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("whole chunk read"))
    wanted = genes[[3, 17, 4, 29]]
    got = [info["gene_id"] for info, *_ in store.iter_gene_scores(wanted)]
    assert got == ["g003", "g017", "g004", "g029"]
    assert read == [[3, 4, 17, 29]]  # ids in the chunk's order = row group numbers


def test_genes_over_several_row_groups_and_a_bad_record(tmp_path):
    """Any row-group layout with a consistent gene_rows record reads; an inconsistent one falls back."""
    genes = _genes(12, seed=6)
    store = _store(tmp_path, genes, chunk_genes=12)
    file = store.path / store.index()["file"][0]
    truth = _whole(store)
    table = pq.read_table(file)
    pq.write_table(table, file, row_group_size=37)  # genes cut across row groups, record kept
    assert pq.read_metadata(file).num_row_groups > 12
    for info, donor, *_ in store.iter_gene_scores(genes):
        np.testing.assert_array_equal(donor, orient(truth[info["gene_id"]][1], info["strand"]))
    meta = dict(table.schema.metadata)
    meta[b"fastbuild.gene_rows"] = json.dumps([1] * 12).encode()  # does not add up: read whole
    pq.write_table(table.replace_schema_metadata(meta), file, row_group_size=37)
    for info, donor, *_ in store.iter_gene_scores(genes):
        np.testing.assert_array_equal(donor, orient(truth[info["gene_id"]][1], info["strand"]))


def test_empty_chunk_and_same_tables_as_the_old_layout(tmp_path):
    store = ScoreStore.create(tmp_path / "s", IDENTITY)
    assert store.write_chunk(Path("scores/chr1/empty.parquet"), []) == 0
    assert pq.read_table(store.path / "scores/chr1/empty.parquet").num_rows == 0
    genes = _genes(9, seed=8)
    store = _store(tmp_path / "b", genes, chunk_genes=9)
    file = store.path / store.index()["file"][0]
    new = pq.read_table(file)
    _rewrite_old_layout(file)
    old = pq.read_table(file)
    assert new.equals(old) and new.schema.equals(old.schema)
    for name in ("donor", "acceptor", "neither", "position"):
        a, b = new.column(name).to_numpy(), old.column(name).to_numpy()
        assert a.tobytes() == b.tobytes()


def test_the_shipped_demo_store_still_reads():
    """The demo store is in the old layout (one row group per chunk): read whole, split by gene id."""
    store = ScoreStore(DEMO_STORE)
    file = store.index()["file"][0]
    md = pq.read_metadata(store.path / file)
    assert md.num_row_groups == 1 and b"fastbuild.gene_rows" not in md.metadata
    idx = store.index()
    wanted = idx.select("gene_id", "chrom", "strand", "start", "end").sample(5, seed=2)
    table = pq.read_table(store.path / file)
    gene = table.column("gene_id").to_pylist()
    for info, donor, acceptor, _ in store.iter_gene_scores(wanted):
        rows = [i for i, g in enumerate(gene) if g == info["gene_id"]]
        want = table.column("donor").to_numpy()[rows[0]:rows[-1] + 1]
        np.testing.assert_array_equal(donor, orient(want, info["strand"]))
        assert acceptor.size == donor.size == info["end"] - info["start"] + 1
    assert pa.types.is_dictionary(table.schema.field("gene_id").type)
