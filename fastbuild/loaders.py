"""Streaming training loaders over a finished build folder (``master/*.parquet``).

Three layers, the lower ones free of any training library:

* :func:`feature_columns` — the columns of chosen roles in a fastbuild schema;
* :class:`BuildReader` and :func:`iter_batches` — pure pyarrow / numpy: the build's
  (file, row group) *units*, read into :class:`Batch` es of ``X`` float32 ``[B, F]``,
  ``y`` int64 ``[B]``, ``w`` float32 ``[B]`` (or None) and optional id columns, sharded and
  shuffled by seed and epoch;
* :class:`TorchIterableDataset` (needs the ``torch`` extra) and :class:`XGBoostDataIter`
  (needs the ``xgboost`` extra), built on first use so that importing this module never
  imports torch or xgboost.

Columns are chosen by role *name*, read from the schema metadata (``fastbuild.roles``), so
the loaders follow the schema rather than a list of names. Conversion to ``X``:

* numbers and booleans become float32; a null (``distance_to_predicted_donor`` of a gene
  without a called site, say) becomes NaN;
* categorical columns (dictionary or string typed, e.g. ``gene_type``) become the index of
  the value in a sorted vocabulary gathered from *every* file of the build (the files'
  own dictionaries may differ), so a code means the same value in every batch; a value
  outside the vocabulary (when one is passed in) and a null become NaN;
* list columns (the sparse k-mers ``{k}mer_ids`` / ``{k}mer_counts``) are skipped by
  default (``sparse="skip"``); ``sparse="dense"`` expands each pair into the 4**k columns
  ``{k}mer_{KMER}`` of the wide layout (4**k floats a row: 1024 for k = 5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fastbuild.builder.output import master_files
from fastbuild.builder.schema import ROLES, kmer_names, roles_of
from fastbuild.errors import FastbuildError

DEFAULT_ROLES = ("feature",)
#: Pseudo id column: the row's index in the whole build (files sorted by name, row groups in order).
ROW_INDEX = "_row"
SPARSE_MODES = ("skip", "dense")
_OPEN_FILES = 16  # parquet files a reader keeps open (per process)
# also TorchIterableDataset and XGBoostDataIter, made by the module __getattr__ on first use
__all__ = ["DEFAULT_ROLES", "ROW_INDEX", "Batch", "BuildReader", "feature_columns", "iter_batches", "master_files"]


# ---------------------------------------------------------------------- columns
def _check_roles(schema: pa.Schema, roles) -> tuple[str, ...]:
    if isinstance(roles, str):
        roles = (roles,)
    roles = tuple(roles)
    known = set(ROLES) | set(roles_of(schema).values())
    unknown = [r for r in roles if r not in known]
    if unknown or not roles:
        raise FastbuildError(f"unknown column role(s) {unknown or '(none given)'}; "
                             f"roles are {', '.join(sorted(known))}")
    return roles


def _is_list(dtype: pa.DataType) -> bool:
    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)


def _is_categorical(dtype: pa.DataType) -> bool:
    return pa.types.is_dictionary(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def feature_columns(schema: pa.Schema, roles=DEFAULT_ROLES, *, sparse: str = "skip") -> list[str]:
    """The columns of ``roles`` in a fastbuild schema, in schema order.

    Parameters
    ----------
    schema : pyarrow.Schema
        The schema of a build's parquet file (``pyarrow.parquet.read_schema``).
    roles : str or sequence of str, default ("feature",)
        Role names of ``fastbuild.roles``: ``("feature",)`` for a meta-model usable on any
        sequence, ``("feature", "annotation")`` for one that will only see annotated genes.
    sparse : {"skip", "dense"}
        ``"skip"`` leaves out list-typed columns (sparse k-mers); ``"dense"`` keeps the
        ``{k}mer_ids`` / ``{k}mer_counts`` pairs (other list columns are always left out).

    Returns
    -------
    list of str
        Source column names (what to select with polars or pyarrow).
    """
    if schema.metadata is None or b"fastbuild.roles" not in schema.metadata:
        raise FastbuildError("the parquet schema has no fastbuild.roles metadata: not a fastbuild dataset file")
    if sparse not in SPARSE_MODES:
        raise FastbuildError(f"sparse must be one of {', '.join(SPARSE_MODES)}, not {sparse!r}")
    roles = _check_roles(schema, roles)
    role_of = roles_of(schema)
    names = set(schema.names)
    out = []
    for f in schema:
        if role_of.get(f.name) not in roles:
            continue
        if _is_list(f.type):
            pair = _sparse_pair(f.name)
            if sparse == "skip" or pair is None or not set(pair) <= names:
                continue
        out.append(f.name)
    return out


def _sparse_pair(name: str) -> tuple[str, str] | None:
    """(``{k}mer_ids``, ``{k}mer_counts``) when ``name`` is one of them."""
    for suffix in ("mer_ids", "mer_counts"):
        k = name[: -len(suffix)] if name.endswith(suffix) else ""
        if k.isdigit():
            return f"{k}mer_ids", f"{k}mer_counts"
    return None


def _x_layout(schema: pa.Schema, columns: list[str]) -> list[tuple[str, list[str]]]:
    """(source column, its X column names) in X order; a sparse pair is one entry on its ids column."""
    layout = []
    for name in columns:
        if _is_list(schema.field(name).type):
            if name.endswith("mer_ids"):
                k = int(name[: -len("mer_ids")])
                layout.append((name, [f"{k}mer_{km}" for km in kmer_names(k)]))
        else:
            layout.append((name, [name]))
    return layout


# ---------------------------------------------------------------------- files and units
def categorical_vocabularies(files, columns) -> dict[str, list]:
    """Sorted distinct non-null values of each categorical column over all ``files``."""
    seen: dict[str, set] = {c: set() for c in columns}
    if not columns:
        return {}
    for path in files:
        table = pq.read_table(path, columns=list(columns), read_dictionary=list(columns))
        for c in columns:
            for chunk in table.column(c).chunks:
                values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
                seen[c].update(v for v in pc.unique(values).to_pylist() if v is not None)
    return {c: sorted(v) for c, v in seen.items()}


@dataclass(frozen=True)
class RowGroupShard:
    """One (file, row group) of the build and where its rows start in the whole build."""

    file: int
    row_group: int
    num_rows: int
    first_row: int


# ---------------------------------------------------------------------- batches
@dataclass
class Batch:
    """Rows as numpy arrays: ``X`` float32 [B, F], ``y`` int64 [B] or None, ``w`` float32 [B] or None,
    ``ids`` id column name -> array [B] (object arrays for strings)."""

    X: np.ndarray
    y: np.ndarray | None = None
    w: np.ndarray | None = None
    ids: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.X)

    def take(self, index: np.ndarray) -> Batch:
        """The rows at ``index`` (a copy)."""
        y = None if self.y is None else self.y[index]
        w = None if self.w is None else self.w[index]
        return Batch(self.X[index], y, w, {k: v[index] for k, v in self.ids.items()})

    def slice(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` (views)."""
        return self.take(slice(start, stop))

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        """The rows of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]
        ids = {k: np.concatenate([p.ids[k] for p in parts]) for k in parts[0].ids}
        return Batch(np.concatenate([p.X for p in parts]), _cat([p.y for p in parts]), _cat([p.w for p in parts]), ids)


def _cat(arrays: list) -> np.ndarray | None:
    return None if arrays[0] is None else np.concatenate(arrays)


def _as_float(column: pa.ChunkedArray, vocabulary: list | None) -> np.ndarray:
    """One column as float32 (null -> NaN; categorical -> vocabulary index)."""
    if vocabulary is not None:
        value_set = pa.array(vocabulary, type=_value_type(column.type))
        chunks = []
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                chunks.append(pc.index_in(chunk.dictionary, value_set=value_set).take(chunk.indices))
            else:
                chunks.append(pc.index_in(chunk, value_set=value_set))
        column = pa.chunked_array(chunks, type=pa.int32())
    return pc.cast(column, pa.float32(), safe=False).to_numpy()


def _value_type(dtype: pa.DataType) -> pa.DataType:
    return dtype.value_type if pa.types.is_dictionary(dtype) else dtype


def _densify(ids: pa.ChunkedArray, counts: pa.ChunkedArray, out: np.ndarray) -> None:
    """Scatter sparse k-mer (ids, counts) lists into the zeroed block ``out`` [rows, 4**k]."""
    ids, counts = ids.combine_chunks(), counts.combine_chunks()
    lengths = pc.list_value_length(ids).fill_null(0).to_numpy()
    rows = np.repeat(np.arange(len(ids)), lengths)
    values = pc.list_flatten(ids).to_numpy()
    out[rows, values] = pc.list_flatten(counts).to_numpy().astype(np.float32)


# ---------------------------------------------------------------------- the reader
class BuildReader:
    """The units, columns and categorical vocabularies of a finished build; reads units as :class:`Batch`.

    Parameters
    ----------
    build_dir : str or Path
        A finished build folder (``_SUCCESS`` present; its ``master/*.parquet`` are read).
    roles : str or sequence of str, default ("feature",)
        Roles whose columns make ``X`` (see :func:`feature_columns`).
    target : str or None, default "y"
        Label column (int64 ``y``); None reads no label.
    weight : str or None, default "sample_weight"
        Weight column (float32 ``w``); None, or a build without that column, gives ``w = None``.
    ids : sequence of str, default ()
        Columns returned beside ``X`` in ``Batch.ids``; ``"_row"`` (:data:`ROW_INDEX`) is the
        row's index in the whole build.
    sparse : {"skip", "dense"}, default "skip"
        What to do with the sparse k-mer list columns.
    vocabularies : dict, optional
        Column -> sorted values for the categorical columns (e.g. ``train.vocabularies`` to code
        a test build like its training build); missing columns are gathered from the files.

    Attributes
    ----------
    columns, feature_names, vocabularies, units, num_rows, schema, target, weight
    """

    def __init__(self, build_dir, roles=DEFAULT_ROLES, *, target: str | None = "y",
                 weight: str | None = "sample_weight", ids=(), sparse: str = "skip", vocabularies=None):
        self.files = master_files(build_dir)
        self.schema, self.units = self._scan()
        self.columns = feature_columns(self.schema, roles, sparse=sparse)
        if not self.columns:
            raise FastbuildError(f"the dataset has no column of role(s) {', '.join(_check_roles(self.schema, roles))}")
        self.layout = _x_layout(self.schema, self.columns)
        self.feature_names = [n for _, names in self.layout for n in names]
        self.target = self._column(target, "target")
        self.weight = weight if weight in self.schema.names else None
        self.ids = [self._column(c, "id") if c != ROW_INDEX else c for c in ids]
        cats = [c for c in self.columns if _is_categorical(self.schema.field(c).type)]
        given = dict(vocabularies or {})
        self.vocabularies = {**categorical_vocabularies(self.files, [c for c in cats if c not in given]),
                             **{c: list(given[c]) for c in cats if c in given}}
        self._open: tuple[int, dict] = (os.getpid(), {})

    def _column(self, name: str | None, what: str) -> str | None:
        if name is not None and name not in self.schema.names:
            raise FastbuildError(f"{what} column {name!r} is not in the dataset ({self.files[0]})")
        return name

    def _scan(self) -> tuple[pa.Schema, list[RowGroupShard]]:
        schema, units, first = None, [], 0
        for i, path in enumerate(self.files):
            with pq.ParquetFile(path) as file:
                meta, this = file.metadata, file.schema_arrow
            if schema is None:
                schema = this
            elif not this.equals(schema):
                raise FastbuildError(f"{path} has another schema than {self.files[0]}: not one build")
            for g in range(meta.num_row_groups):
                n = meta.row_group(g).num_rows
                if n:
                    units.append(RowGroupShard(i, g, n, first))
                    first += n
        return schema, units

    @property
    def num_rows(self) -> int:
        """Rows of the whole build."""
        return sum(u.num_rows for u in self.units)

    def __getstate__(self):
        return {**self.__dict__, "_open": (None, {})}

    def _file(self, index: int) -> pq.ParquetFile:
        pid, files = self._open
        if pid != os.getpid():  # a forked worker opens its own handles
            pid, files = os.getpid(), {}
            self._open = (pid, files)
        if index not in files:
            if len(files) >= _OPEN_FILES:  # a build may have more files than the open-file limit
                del files[next(iter(files))]
            files[index] = pq.ParquetFile(self.files[index])
        return files[index]

    def read(self, unit: RowGroupShard) -> Batch:
        """One unit's rows, in file order."""
        wanted = list(dict.fromkeys([*self.columns, *(c for c in (self.target, self.weight) if c),
                                     *(c for c in self.ids if c != ROW_INDEX)]))
        table = self._file(unit.file).read_row_group(unit.row_group, columns=wanted)
        X = np.zeros((table.num_rows, len(self.feature_names)), np.float32)
        j = 0
        for name, names in self.layout:
            if _is_list(self.schema.field(name).type):
                counts = table.column(name.replace("mer_ids", "mer_counts"))
                _densify(table.column(name), counts, X[:, j:j + len(names)])
            else:
                X[:, j] = _as_float(table.column(name), self.vocabularies.get(name))
            j += len(names)
        y = None if self.target is None else table.column(self.target).to_numpy().astype(np.int64)
        w = None if self.weight is None else pc.cast(table.column(self.weight), pa.float32()).to_numpy()
        ids = {c: (np.arange(unit.first_row, unit.first_row + unit.num_rows, dtype=np.int64) if c == ROW_INDEX
                   else table.column(c).to_numpy(zero_copy_only=False)) for c in self.ids}
        return Batch(X, y, w, ids)

    def shard_units(self, *, shuffle: bool = False, seed: int = 0, epoch: int = 0, shard: int = 0,
                    num_shards: int = 1) -> list[RowGroupShard]:
        """The units of shard ``shard`` of ``num_shards``: every ``num_shards``-th unit of the (shuffled) order."""
        if not 0 <= shard < num_shards:
            raise FastbuildError(f"shard {shard} is not in 0..{num_shards - 1}")
        order = np.arange(len(self.units))
        if shuffle:
            order = np.random.default_rng((seed, epoch)).permutation(len(self.units))
        return [self.units[k] for k in order[shard::num_shards]]

    def batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0, epoch: int = 0, shard: int = 0,
                num_shards: int = 1, buffer_units: int = 4, drop_last: bool = False):
        """Batches of ``batch_size`` rows of one shard (see :func:`iter_batches`)."""
        if batch_size < 1 or buffer_units < 1 or seed < 0 or epoch < 0:
            raise FastbuildError("batch_size and buffer_units must be >= 1, seed and epoch >= 0")
        units = self.shard_units(shuffle=shuffle, seed=seed, epoch=epoch, shard=shard, num_shards=num_shards)
        rest = None
        for start in range(0, len(units), buffer_units):
            part = Batch.concat([self.read(u) for u in units[start:start + buffer_units]])
            if shuffle:
                rng = np.random.default_rng((seed, epoch, num_shards, shard, start))
                part = part.take(rng.permutation(len(part)))
            if rest is not None:
                part = Batch.concat([rest, part])
            full = len(part) // batch_size * batch_size
            for a in range(0, full, batch_size):
                yield part.slice(a, a + batch_size)
            rest = part.slice(full, len(part)) if full < len(part) else None
        if rest is not None and not drop_last:
            yield rest


def iter_batches(build_dir, roles=DEFAULT_ROLES, batch_size: int = 65536, *, target: str | None = "y",
                 weight: str | None = "sample_weight", ids=(), sparse: str = "skip", vocabularies=None,
                 shuffle: bool = False, seed: int = 0, epoch: int = 0, shard: int = 0, num_shards: int = 1,
                 buffer_units: int = 4, drop_last: bool = False):
    """Stream a finished build as numpy :class:`Batch` es (no torch or xgboost needed).

    Parameters
    ----------
    build_dir, roles, target, weight, ids, sparse, vocabularies
        As for :class:`BuildReader`.
    batch_size : int, default 65536
        Rows a batch; the last batch of a shard may be shorter (dropped with ``drop_last``).
    shuffle : bool, default False
        Shuffle the unit order with ``numpy.random.default_rng((seed, epoch))`` and the rows of
        each buffer of ``buffer_units`` units with ``default_rng((seed, epoch, num_shards, shard, i))``.
        Without it, rows come in file order.
    shard, num_shards : int
        Read only units ``shard, shard + num_shards, ...`` of the order: the shards of one
        ``(seed, epoch)`` partition the rows.

    Yields
    ------
    Batch
        ``X`` float32 [B, F] (columns ``BuildReader.feature_names``), ``y`` int64 [B] or None,
        ``w`` float32 [B] or None, ``ids``.
    """
    reader = BuildReader(build_dir, roles, target=target, weight=weight, ids=ids, sparse=sparse,
                         vocabularies=vocabularies)
    yield from reader.batches(batch_size, shuffle=shuffle, seed=seed, epoch=epoch, shard=shard,
                              num_shards=num_shards, buffer_units=buffer_units, drop_last=drop_last)


# ---------------------------------------------------------------------- torch
class _TorchIterableDataset:
    """A ``torch.utils.data.IterableDataset`` of tensor batches of a finished build.

    Use it with ``DataLoader(ds, batch_size=None, num_workers=N)`` (it batches itself). The
    (file, row group) units are split over the ``world_size`` ranks and, within a rank, over
    the DataLoader workers (``torch.utils.data.get_worker_info()``): shard ``rank * N + worker``
    of ``world_size * N`` takes every so-many-th unit of the epoch's unit order. So every row
    comes exactly once per epoch over all ranks and workers; the order depends only on
    ``seed``, the epoch (:meth:`set_epoch`, call it before each epoch, in the main process and
    with ``persistent_workers=False``, the default), ``world_size`` and ``N``. Ranks get whole
    units, so their batch counts may differ by about one unit's worth: for DDP, stop all ranks
    at the shortest (or use ``drop_last`` and a fixed step count).

    Parameters
    ----------
    build_dir, roles, target, weight, ids, sparse, vocabularies
        As for :class:`BuildReader`.
    batch_size : int, default 1024
        Rows a batch; each worker's last batch may be shorter unless ``drop_last``.
    shuffle : bool, default True
        Seeded shuffle of units and of the rows of each buffer of ``buffer_units`` units.
    seed : int, default 0
    rank, world_size : int, optional
        This process's place; default: ``torch.distributed`` when initialised, else 0 of 1.
    as_dict : bool, default False
        Yield ``{"X", "y", "w", *ids}`` (``"w"`` only with weights; string ids as lists)
        instead of the tuple ``(X, y, w)`` (``w`` None without weights).

    Yields
    ------
    tuple or dict
        ``X`` float32 [B, F], ``y`` int64 [B], ``w`` float32 [B] (torch tensors).
    """

    def __init__(self, build_dir, roles=DEFAULT_ROLES, batch_size: int = 1024, *, target: str | None = "y",
                 weight: str | None = "sample_weight", ids=(), sparse: str = "skip", vocabularies=None,
                 shuffle: bool = True, seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 buffer_units: int = 4, drop_last: bool = False, as_dict: bool = False):
        import torch.distributed as dist

        super().__init__()
        if ids and not as_dict:
            raise FastbuildError("id columns come only in dict batches: pass as_dict=True with ids")
        self.reader = BuildReader(build_dir, roles, target=target, weight=weight, ids=ids, sparse=sparse,
                                  vocabularies=vocabularies)
        ready = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if ready else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if ready else 1)
        self.options = dict(batch_size=batch_size, shuffle=shuffle, seed=seed, buffer_units=buffer_units,
                            drop_last=drop_last)
        self.as_dict = as_dict
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the unit and row order of ``epoch`` (call before iterating each epoch)."""
        self.epoch = int(epoch)

    @property
    def feature_names(self) -> list[str]:
        """Names of the columns of ``X``."""
        return self.reader.feature_names

    def __iter__(self):
        import torch
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        shard, num_shards = self.rank * workers + worker, self.world_size * workers
        for b in self.reader.batches(epoch=self.epoch, shard=shard, num_shards=num_shards, **self.options):
            X = torch.from_numpy(b.X)
            y = None if b.y is None else torch.from_numpy(b.y)
            w = None if b.w is None else torch.from_numpy(b.w)
            if not self.as_dict:
                yield X, y, w
                continue
            out = {"X": X, "y": y} if w is None else {"X": X, "y": y, "w": w}
            for k, v in b.ids.items():
                out[k] = v.tolist() if v.dtype == object else torch.from_numpy(v)
            yield out


# ---------------------------------------------------------------------- xgboost
class _XGBoostDataIter:
    """An ``xgboost.DataIter`` over a finished build, for external-memory or quantile training.

    Each ``next`` passes ``units_per_batch`` (file, row group) units, in file order, to
    ``input_data(data=X, label=y, weight=w, feature_names=...)``.

    Parameters
    ----------
    build_dir, roles, target, weight, sparse, vocabularies
        As for :class:`BuildReader`.
    units_per_batch : int, default 1
        Units a batch.
    categorical : bool, default False
        Mark categorical columns (vocabulary codes) as feature type ``"c"``; build the matrix
        with ``enable_categorical=True`` then.
    cache_prefix : str, optional
        Where xgboost writes its external-memory cache (``xgboost.DMatrix(it)``); other keywords
        go to ``xgboost.DataIter``.

    Examples
    --------
    >>> it = XGBoostDataIter("out", cache_prefix="/tmp/cache/fb")          # doctest: +SKIP
    >>> dtrain = xgboost.ExtMemQuantileDMatrix(it)  # or QuantileDMatrix(it) / DMatrix(it)  # doctest: +SKIP
    >>> xgboost.train({"objective": "multi:softprob", "num_class": 3}, dtrain, 100)  # doctest: +SKIP
    """

    def __init__(self, build_dir, roles=DEFAULT_ROLES, *, target: str | None = "y",
                 weight: str | None = "sample_weight", sparse: str = "skip", vocabularies=None,
                 units_per_batch: int = 1, categorical: bool = False, cache_prefix: str | None = None, **options):
        self.reader = BuildReader(build_dir, roles, target=target, weight=weight, sparse=sparse,
                                  vocabularies=vocabularies)
        if units_per_batch < 1:
            raise FastbuildError("units_per_batch must be >= 1")
        units = self.reader.units
        self._groups = [units[i:i + units_per_batch] for i in range(0, len(units), units_per_batch)]
        cats = {n for n in self.reader.vocabularies}
        self.feature_types = [("c" if categorical and n in cats else "q") for n in self.reader.feature_names]
        self._next = 0
        super().__init__(cache_prefix=cache_prefix, **options)

    @property
    def feature_names(self) -> list[str]:
        """Names of the columns of ``X``."""
        return self.reader.feature_names

    def next(self, input_data) -> bool:
        """Pass the next batch to xgboost; False at the end."""
        if self._next >= len(self._groups):
            return False
        b = Batch.concat([self.reader.read(u) for u in self._groups[self._next]])
        input_data(data=b.X, label=b.y, weight=b.w, feature_names=self.reader.feature_names,
                   feature_types=self.feature_types)
        self._next += 1
        return True

    def reset(self) -> None:
        """Start again at the first unit."""
        self._next = 0


_LAZY = {"TorchIterableDataset": (_TorchIterableDataset, "torch.utils.data", "IterableDataset", "torch"),
         "XGBoostDataIter": (_XGBoostDataIter, "xgboost", "DataIter", "xgboost")}


def __getattr__(name: str):
    """Build :class:`TorchIterableDataset` / :class:`XGBoostDataIter` on first use (importing torch / xgboost)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mixin, module, base, extra = _LAZY[name]
    import importlib

    try:
        parent = getattr(importlib.import_module(module), base)
    except ImportError:
        raise MissingExtraError(f"fastbuild.loaders.{name} needs {extra}: pip install 'fastbuild-splice[{extra}]'") \
            from None
    cls = type(name, (mixin, parent), {"__module__": __name__, "__qualname__": name, "__doc__": mixin.__doc__})
    globals()[name] = cls
    return cls


class MissingExtraError(FastbuildError, ImportError):
    """An optional dependency (extra) of a loader is not installed."""
