"""fastbuild.loaders: the numpy iterator, the torch IterableDataset and the xgboost DataIter.

Two datasets: a small real build (fake scores of the demo genes) and a synthetic folder with
the new roles written here (sample_weight, a dictionary gene_type whose dictionary differs
between files, sparse 5-mer lists, a nullable int feature).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastbuild import loaders
from fastbuild.builder import build_dataset
from fastbuild.builder.schema import kmer_names
from fastbuild.errors import FastbuildError

_SYNTH = [  # name, type, role
    ("gene_id", pa.string(), "id"), ("position", pa.int64(), "id"),
    ("y", pa.int8(), "label"), ("distance_to_donor", pa.int64(), "leaky"),
    ("sample_weight", pa.float32(), "weight"),
    ("donor_score", pa.float32(), "feature"), ("distance_to_predicted_donor", pa.int64(), "feature"),
    ("5mer_ids", pa.list_(pa.int32()), "feature"), ("5mer_counts", pa.list_(pa.uint16()), "feature"),
    ("gene_type", pa.dictionary(pa.int32(), pa.string()), "annotation"), ("gene_length", pa.int64(), "annotation"),
]
# each file's gene types in the order of its own dictionary (codes must still agree)
_TYPES = [["protein_coding"], ["lncRNA", "protein_coding"], ["snoRNA", "lncRNA"]]


def _synthetic_table(i: int, n: int, with_weight: bool, rng) -> pa.Table:
    types = _TYPES[i]
    ids = [sorted(rng.choice(1024, size=rng.integers(0, 4), replace=False).tolist()) for _ in range(n)]
    dist = [None if r % 3 == 0 else int(r) for r in range(n)]
    cols = {
        "gene_id": [f"G{i}_{r // 10}" for r in range(n)], "position": np.arange(n) + 1000 * i,
        "y": rng.integers(0, 3, n).astype(np.int8), "distance_to_donor": rng.integers(0, 50, n),
        "sample_weight": rng.uniform(1, 5, n).astype(np.float32),
        "donor_score": rng.uniform(0, 1, n).astype(np.float32), "distance_to_predicted_donor": dist,
        "5mer_ids": ids, "5mer_counts": [[j % 7 + 1 for j in row] for row in ids],
        "gene_type": pa.DictionaryArray.from_arrays(pa.array(np.arange(n) % len(types), pa.int32()), types),
        "gene_length": rng.integers(100, 10**8, n),
    }
    fields = [pa.field(nm, t, metadata={"fastbuild.role": role}) for nm, t, role in _SYNTH
              if with_weight or nm != "sample_weight"]
    roles = {f.name: f.metadata[b"fastbuild.role"].decode() for f in fields}
    schema = pa.schema(fields, metadata={"fastbuild.roles": json.dumps(roles)})
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in fields}, schema=schema)


def write_synthetic(out, with_weight: bool = True, rows=(23, 40, 17)):
    """A finished-looking build folder of three files (two row groups each) with the new roles."""
    rng = np.random.default_rng(7)
    (out / "master").mkdir(parents=True)
    for i, n in enumerate(rows):
        pq.write_table(_synthetic_table(i, n, with_weight, rng), out / "master" / f"batch_{i + 1:05d}.parquet",
                       row_group_size=(n + 1) // 2)
    (out / "_SUCCESS").write_text("{}")
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("synthetic") / "build")


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, fake_store):
    """A small real build: 8 demo genes, 3 files, several row groups each."""
    out = tmp_path_factory.mktemp("loaders") / "build"
    build_dataset(scores=fake_store, output_dir=str(out), n_genes=8, batch_size=3, batch_rows=1500, progress=False)
    return out


def _table(build):
    return pa.concat_tables(pq.read_table(f) for f in sorted((build / "master").glob("*.parquet")))


# ---------------------------------------------------------------------- columns, numpy iterator
def test_feature_columns_by_role(synthetic):
    schema = pq.read_schema(synthetic / "master" / "batch_00001.parquet")
    assert loaders.feature_columns(schema) == ["donor_score", "distance_to_predicted_donor"]
    assert loaders.feature_columns(schema, "feature", sparse="dense") == [
        "donor_score", "distance_to_predicted_donor", "5mer_ids", "5mer_counts"]
    assert loaders.feature_columns(schema, ("feature", "annotation"))[-2:] == ["gene_type", "gene_length"]
    with pytest.raises(FastbuildError, match="unknown column role"):
        loaders.feature_columns(schema, ("features",))
    with pytest.raises(FastbuildError, match="sparse must be"):
        loaders.feature_columns(schema, sparse="csr")


def test_numpy_batches_convert_every_column(synthetic):
    table = _table(synthetic)
    reader = loaders.BuildReader(synthetic, ("feature", "annotation"), ids=("_row", "gene_id"))
    assert reader.feature_names == ["donor_score", "distance_to_predicted_donor", "gene_type", "gene_length"]
    assert reader.vocabularies == {"gene_type": ["lncRNA", "protein_coding", "snoRNA"]}
    assert len(reader.units) == 6 and reader.num_rows == table.num_rows == 80
    b = loaders.Batch.concat(list(loaders.iter_batches(synthetic, ("feature", "annotation"), 7, ids=("_row",))))
    assert b.X.dtype == np.float32 and b.X.shape == (80, 4) and b.y.dtype == np.int64 and b.w.dtype == np.float32
    assert b.ids["_row"].tolist() == list(range(80))  # no shuffle: file order
    dist = table.column("distance_to_predicted_donor").to_pylist()
    assert np.isnan(b.X[:, 1]).tolist() == [d is None for d in dist]
    assert np.array_equal(b.X[~np.isnan(b.X[:, 1]), 1], [d for d in dist if d is not None])
    names = np.array(reader.vocabularies["gene_type"])[b.X[:, 2].astype(int)]
    assert names.tolist() == table.column("gene_type").cast(pa.string()).to_pylist()
    assert np.array_equal(b.y, table.column("y").to_numpy())
    assert np.array_equal(b.w, table.column("sample_weight").to_numpy())
    # a vocabulary passed in (a training build's) codes unknown values as NaN
    given = loaders.BuildReader(synthetic, ("annotation",), vocabularies={"gene_type": ["protein_coding"]})
    codes = loaders.Batch.concat([given.read(u) for u in given.units]).X[:, 0]
    assert np.array_equal(np.isnan(codes), np.array(names) != "protein_coding") and np.nanmax(codes) == 0


def test_sparse_kmers_densify(synthetic):
    table = _table(synthetic)
    reader = loaders.BuildReader(synthetic, "feature", sparse="dense")
    assert reader.feature_names[2:] == [f"5mer_{k}" for k in kmer_names(5)]
    X = loaders.Batch.concat([reader.read(u) for u in reader.units]).X
    dense = np.zeros((table.num_rows, 1024), np.float32)
    for r, (ids, counts) in enumerate(zip(table.column("5mer_ids").to_pylist(), table.column("5mer_counts").to_pylist(),
                                          strict=True)):
        dense[r, ids] = counts
    assert np.array_equal(X[:, 2:], dense) and dense.sum() > 0


def test_no_weight_column_gives_no_weights(tmp_path):
    build = write_synthetic(tmp_path / "b", with_weight=False)
    reader = loaders.BuildReader(build)
    assert reader.weight is None and reader.read(reader.units[0]).w is None
    assert loaders.BuildReader(build, weight=None).weight is None
    with pytest.raises(FastbuildError, match="role"):
        loaders.BuildReader(build, ("weight",))


def test_refuses_unfinished_and_foreign_input(tmp_path, synthetic):
    with pytest.raises(FastbuildError, match="not a finished fastbuild dataset"):
        loaders.BuildReader(tmp_path)
    with pytest.raises(FastbuildError, match="target column 'label'"):
        loaders.BuildReader(synthetic, target="label")
    with pytest.raises(FastbuildError, match="shard 2"):
        loaders.BuildReader(synthetic).shard_units(shard=2, num_shards=2)


def test_shards_partition_rows_and_shuffle_is_seeded(synthetic):
    def rows(**kw):
        return np.concatenate([b.ids["_row"] for b in loaders.iter_batches(synthetic, batch_size=5, ids=("_row",),
                                                                            shuffle=True, **kw)])
    parts = [rows(shard=s, num_shards=3, epoch=1) for s in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(80))
    assert np.array_equal(rows(epoch=1), rows(epoch=1)) and not np.array_equal(rows(epoch=1), rows(epoch=2))
    assert not np.array_equal(rows(epoch=1, seed=1), rows(epoch=1))
    assert sorted(rows(epoch=2).tolist()) == list(range(80))


# ---------------------------------------------------------------------- torch
def _epoch(ds, epoch, workers=2):
    torch = pytest.importorskip("torch")
    ds.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers)
    rows, keys = [], []
    for b in loader:
        assert b["X"].dtype == torch.float32 and b["y"].dtype == torch.int64 and b["X"].shape[0] == len(b["_row"])
        assert b["X"].shape[1] == len(ds.feature_names) and len(b["X"]) <= 512
        rows += b["_row"].tolist()
        keys += zip(b["gene_id"], b["position"].tolist(), strict=True)
    return rows, keys


def test_torch_dataloader_every_row_once_per_epoch(real_build):
    torch = pytest.importorskip("torch")
    n = pq.ParquetDataset(real_build / "master").read(columns=["y"]).num_rows
    ds = loaders.TorchIterableDataset(real_build, ("feature", "annotation"), batch_size=512, seed=3,
                                      ids=("_row", "gene_id", "position"), as_dict=True)
    assert isinstance(ds, torch.utils.data.IterableDataset) and len(ds.reader.units) >= 4
    first, keys = _epoch(ds, 0)
    assert sorted(first) == list(range(n)) and len(set(keys)) == n
    assert _epoch(ds, 0)[0] == first  # same seed and epoch: same order
    second, _ = _epoch(ds, 1)
    assert sorted(second) == list(range(n)) and second != first
    # two ranks of two workers each partition the rows
    ranks = [_epoch(loaders.TorchIterableDataset(real_build, batch_size=512, seed=3, rank=r, world_size=2,
                                                 ids=("_row", "gene_id", "position"), as_dict=True), 1)[0]
             for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and sorted(ranks[0] + ranks[1]) == list(range(n))


def test_torch_tuple_batches(synthetic):
    torch = pytest.importorskip("torch")
    ds = loaders.TorchIterableDataset(synthetic, ("feature", "annotation"), batch_size=16, shuffle=False)
    batches = list(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0))
    X, y, w = (torch.cat(t) for t in zip(*batches, strict=True))
    assert X.shape == (80, 4) and y.dtype == torch.int64 and w.dtype == torch.float32
    assert Counter(len(b[0]) for b in batches) == {16: 5}
    import pickle  # spawned workers get the dataset pickled

    again = pickle.loads(pickle.dumps(ds))
    assert type(again) is type(ds) and torch.allclose(torch.cat([b[0] for b in again]), X, equal_nan=True)
    with pytest.raises(FastbuildError, match="as_dict=True"):
        loaders.TorchIterableDataset(synthetic, ids=("_row",))


# ---------------------------------------------------------------------- xgboost
def test_xgboost_external_memory_trains(real_build, tmp_path):
    xgb = pytest.importorskip("xgboost")
    it = loaders.XGBoostDataIter(real_build, ("feature", "annotation"), units_per_batch=2,
                                 cache_prefix=str(tmp_path / "cache"))
    dtrain = xgb.DMatrix(it)
    assert dtrain.num_row() == it.reader.num_rows and dtrain.num_col() == len(it.feature_names)
    assert dtrain.feature_names == it.feature_names and len(dtrain.get_weight()) == dtrain.num_row()
    params = {"objective": "multi:softprob", "num_class": 3, "tree_method": "hist", "max_depth": 3, "nthread": 2}
    booster = xgb.train(params, dtrain, num_boost_round=2)
    assert booster.num_boosted_rounds() == 2
    assert booster.predict(dtrain).shape == (dtrain.num_row(), 3)


def test_xgboost_quantile_matrix_categorical(synthetic):
    xgb = pytest.importorskip("xgboost")
    it = loaders.XGBoostDataIter(synthetic, ("feature", "annotation"), categorical=True)
    assert it.feature_types == ["q", "q", "c", "q"]
    dtrain = xgb.QuantileDMatrix(it, enable_categorical=True, max_bin=16)
    assert dtrain.num_row() == 80
    np.testing.assert_allclose(dtrain.get_weight(), _table(synthetic).column("sample_weight").to_numpy())
    params = {"objective": "multi:softprob", "num_class": 3, "nthread": 2, "max_bin": 16}
    booster = xgb.train(params, dtrain, num_boost_round=2)
    assert booster.num_boosted_rounds() == 2


def test_missing_extra_is_one_line_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost -> ImportError
    monkeypatch.delitem(loaders.__dict__, "XGBoostDataIter", raising=False)
    with pytest.raises(loaders.MissingExtraError, match=r"pip install 'fastbuild-splice\[xgboost\]'"):
        loaders.XGBoostDataIter  # noqa: B018
