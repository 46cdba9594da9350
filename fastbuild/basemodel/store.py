"""Score store: per-position base-model scores on disk, one Parquet file per chromosome chunk.

Layout of a store directory::

    store.json                       format version + identity of the model that wrote it
    index.parquet                    gene_id, chrom, strand, start, end, file, n_rows
    scores/<chrom>/chunk_<first>_<last>_<tag>.parquet
                                     gene_id, position (1-based), donor, acceptor, neither
                                     rows per gene contiguous, in ascending genomic position

Every file is written atomically (``*.tmp``, fsync, rename). A chunk file carries the ids of its
genes in its Parquet metadata (``fastbuild.genes``), so an interrupted run resumes by skipping
chunks already on disk.

Row groups: each gene of a chunk is one Parquet row group of its own, and the chunk's metadata
records the row count of every gene (``fastbuild.gene_rows``, in the order of
``fastbuild.genes``); with the row counts of the row groups (Parquet footer) a reader finds the
row groups, and the rows within them, of any gene, and reads only those
(``ParquetFile.read_row_groups``), without the gene id column.  Row-group statistics are kept for
gene_id and position only.  Chunks written before (one row group of up to 2**20 rows, no
``fastbuild.gene_rows``) are read whole and split into runs of one gene id, as before.  Either
way the rows of a chunk and their values are the same: only the row-group layout differs.
This module is the one owner of the format: chunk names (:meth:`ScoreStore.chunk_name`), writing
(:meth:`ScoreStore.write_chunk`, :meth:`ScoreStore.record_chunk`) and reading (:meth:`ScoreStore.load`,
:meth:`ScoreStore.iter_gene_scores`, both on one private chunk reader).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.arrow_buffers import to_numpy
from fastbuild.atomic import atomic_path, ensure_dir, write_text
from fastbuild.coords import orient
from fastbuild.errors import FastbuildError

FORMAT_VERSION = 1
SCORE_COLUMNS = ("donor", "acceptor", "neither")
_META_KEY = b"fastbuild.genes"
_ROWS_KEY = b"fastbuild.gene_rows"  # rows of each gene of the chunk, in the order of _META_KEY
_ENGINE_KEY = b"fastbuild.engine"  # {"engine", "precision", "mantissa_bits"} of the chunk

INDEX_SCHEMA = {
    "gene_id": pl.Utf8,
    "chrom": pl.Utf8,
    "strand": pl.Utf8,
    "start": pl.Int64,
    "end": pl.Int64,
    "file": pl.Utf8,
    "n_rows": pl.Int64,
}
LOAD_SCHEMA = {  # what ScoreStore.load returns
    "gene_id": pl.Utf8,
    "position": pl.Int64,
    "donor": pl.Float32,
    "acceptor": pl.Float32,
    "neither": pl.Float32,
}


def round_mantissa(a: np.ndarray, bits: int) -> np.ndarray:
    """Round float32 values to ``bits`` explicit mantissa bits (round-half-even-ish), keep float32.

    ``bits=10`` gives float16 precision with float32 range: probabilities like 1e-7 keep three
    significant digits, and the Parquet/zstd files shrink several-fold.
    """
    a = np.ascontiguousarray(a, dtype=np.float32)
    if bits >= 23:
        return a
    drop = 23 - bits
    u = a.view(np.uint32).astype(np.uint64)
    half = np.uint64(1 << (drop - 1))
    lsb = (u >> np.uint64(drop)) & np.uint64(1)
    u = (u + half - np.uint64(1) + lsb) >> np.uint64(drop) << np.uint64(drop)
    return u.astype(np.uint32).view(np.float32)


def _describe(identity: dict) -> str:
    return f"{identity.get('name', '?')} ({str(identity.get('digest', '?'))[:12]})"


def identity_mismatch(found: dict, wanted: dict) -> str | None:
    """None when the two model identities have the same digest, else ``"found vs wanted"``."""
    if found.get("digest") == wanted.get("digest"):
        return None
    return f"{_describe(found)} vs {_describe(wanted)}"


META_FILE = "store.json"
INDEX_FILE = "index.parquet"


def metadata_files(path) -> list[Path]:
    """The files that identify a store's contents (model identity and index), where present."""
    return [Path(path) / name for name in (META_FILE, INDEX_FILE) if (Path(path) / name).is_file()]


class ScoreStore:
    """Reader (and low-level writer) of a score store directory."""

    def __init__(self, path):
        self.path = Path(path)
        meta = self.path / META_FILE
        if not meta.is_file():
            raise FastbuildError(f"not a score store (no {META_FILE}): {self.path}")
        try:
            self.meta = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise FastbuildError(f"cannot read {meta}: {exc}") from None
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise FastbuildError(f"{meta}: unsupported score store format {self.meta.get('format_version')!r}")
        self._index = None

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path, identity: dict, overwrite: bool = False, extra: dict | None = None,
               precision: str = "float32") -> ScoreStore:
        """Open ``path`` for writing scores of the model ``identity`` computed at ``precision``.

        A store written by a different model, or at another precision (``float32`` / ``bf16``:
        scores of different precision are never mixed in one store), is refused unless
        ``overwrite`` (then its scores are removed first).
        """
        path = ensure_dir(path)
        meta_path = path / META_FILE
        if meta_path.is_file():
            store = cls(path)
            diff = identity_mismatch(store.model_identity, identity)
            if diff is None and store.precision != precision:
                diff = f"computed at {store.precision}, not {precision}: scores of different precision are never mixed"
            elif diff is None:
                return store
            if not overwrite:
                raise FastbuildError(
                    f"score store {path} holds scores of a different model ({diff}); "
                    "use another directory or ask to overwrite"
                )
            store.clear()
        elif any(path.iterdir()):
            if not overwrite and (path / "scores").exists():
                raise FastbuildError(f"{path} is not an empty directory nor a score store")
        meta = {"format_version": FORMAT_VERSION, "model": identity, "columns": list(SCORE_COLUMNS),
                "precision": precision}
        if extra:
            meta.update(extra)
        write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return cls(path)

    def clear(self) -> None:
        """Remove the store's scores, index and metadata (the directory itself stays)."""
        import shutil

        for name in ("scores", INDEX_FILE, META_FILE):
            p = self.path / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        self._index = None

    # ------------------------------------------------------------------ metadata
    @property
    def model_identity(self) -> dict:
        """Identity of the model that wrote the store (see ``ModelSpec.identity``)."""
        return self.meta["model"]

    @property
    def precision(self) -> str:
        """Arithmetic precision of the store's scores: ``float32`` (exact engines) or ``bf16``."""
        return self.meta.get("precision", "float32")

    def check_model(self, identity: dict) -> None:
        """Raise FastbuildError unless the store was written by the model ``identity``."""
        diff = identity_mismatch(self.model_identity, identity)
        if diff is not None:
            raise FastbuildError(f"score store {self.path} was written by a different model ({diff}); "
                                 "pass the model that wrote it, or another --scores folder")

    def _read_index(self) -> pl.DataFrame:
        p = self.path / INDEX_FILE
        if not p.is_file():
            return pl.DataFrame(schema=INDEX_SCHEMA)
        try:
            idx = pl.read_parquet(p)
            missing = [c for c in INDEX_SCHEMA if c not in idx.columns]
            if missing:
                raise ValueError(f"it lacks column(s) {', '.join(missing)}")
            return idx.select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA)
        except Exception as exc:
            raise FastbuildError(
                f"score store index {p} is corrupt ({str(exc).splitlines()[0][:100]}); delete it and rerun "
                "fastbuild predict with the same options: chunks on disk are reused and indexed again") from None

    def index(self) -> pl.DataFrame:
        """The index: one row per gene (gene_id, chrom, strand, start, end, file, n_rows)."""
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def present_genes(self) -> list[str]:
        """Ids of indexed genes whose chunk file is on disk (a deleted chunk's genes are rescored)."""
        idx = self._read_index()
        self._index = idx
        files = [f for f in idx["file"].unique().to_list() if (self.path / f).is_file()]
        return idx.filter(pl.col("file").is_in(files))["gene_id"].to_list()

    def unindexed_files(self) -> list[str]:
        """Chunk files on disk that the index does not name (an interrupted or concurrent predict)."""
        named = set(self.index()["file"].to_list())
        on_disk = (str(p.relative_to(self.path)) for p in (self.path / "scores").glob("*/*.parquet"))
        return sorted(f for f in on_disk if f not in named)

    def unindexed_hint(self) -> str:
        """A sentence for errors about missing genes when chunk files lie outside the index."""
        extra = self.unindexed_files()
        if not extra:
            return ""
        return (f"; {len(extra)} chunk file(s) in the store are not in its index (e.g. {extra[0]}): an interrupted "
                "predict, rerun it with the same options to index them")

    # ------------------------------------------------------------------ plans and the writer lock
    def plan_path(self, key: str) -> Path:
        return self.path / "plans" / f"predict_{key}.json"

    def write_plan(self, key: str, plan: dict) -> None:
        ensure_dir(self.path / "plans")
        write_text(self.plan_path(key), json.dumps(plan, indent=1) + "\n")

    def read_plan(self, key: str) -> dict:
        p = self.plan_path(key)
        if not p.is_file():
            raise FastbuildError(f"score store {self.path} holds no scoring plan for these genes and options "
                                 f"({p.name}); run the same command with --plan-only first")
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise FastbuildError(f"cannot read {p}: {exc}; plan again with --plan-only") from None

    @contextmanager
    def writer_lock(self):
        """Exclusive lock of the index (``.index.lock``): index updates of concurrent runs queue up."""
        fd = os.open(self.path / ".index.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def genes(self) -> list[str]:
        """Ids of the genes that have scores in the store."""
        return self.index()["gene_id"].to_list()

    def __contains__(self, gene_id) -> bool:
        return gene_id in set(self.index()["gene_id"].to_list())

    # ------------------------------------------------------------------ reading
    def _read_chunk(self, file, wanted: set) -> dict:
        """gene_id -> (positions, donor, acceptor, neither) numpy arrays for the wanted genes of chunk ``file``.

        A chunk that records its genes' row counts (``fastbuild.gene_rows``) is read row group by
        row group: only those holding wanted genes, only the numeric columns.  An older chunk is
        read whole (numeric columns and the gene ids) and split into runs of one gene id (a gene's
        rows are contiguous in its chunk: the store's contract).
        """
        path = self.path / file
        if not path.is_file():
            raise FastbuildError(
                f"score store {self.path}: chunk file {file} named by its index is missing; rerun fastbuild predict "
                "with the same options to score its genes again")
        try:
            with pq.ParquetFile(path) as pf:
                layout = _gene_rows(pf.metadata)
                if layout is None:
                    return _runs_of_wanted(pf.read(columns=["gene_id", "position", *SCORE_COLUMNS]), wanted)
                return _read_wanted_row_groups(pf, *layout, wanted)
        except (OSError, pa.ArrowException) as exc:
            raise FastbuildError(f"cannot read score chunk {path}: {exc}") from None

    def _missing(self, where: pl.DataFrame) -> list[str]:
        """Gene ids of ``where`` (gene_id, file, ...) that the index does not know."""
        return where.filter(pl.col("file").is_null())["gene_id"].to_list()

    def load(self, gene_ids=None, as_dict: bool = False):
        """Scores of some genes, reading only the chunks that hold them.

        Parameters
        ----------
        gene_ids : str or iterable of str, optional
            Genes wanted (default: all genes of the store).
        as_dict : bool
            Return a dict gene_id -> DataFrame instead of one DataFrame.

        Returns
        -------
        polars.DataFrame or dict
            Columns gene_id, position, donor, acceptor, neither; genes in the order asked (each
            once), positions ascending.

        Raises
        ------
        FastbuildError
            When a gene has no scores in the store, or a chunk cannot be read.
        """
        idx = self.index()
        if gene_ids is None:
            gene_ids = idx["gene_id"].to_list()
        elif isinstance(gene_ids, str):
            gene_ids = [gene_ids]
        want = pl.DataFrame({"gene_id": list(gene_ids)}, schema={"gene_id": pl.Utf8}).with_row_index("_order")
        hit = want.join(idx, on="gene_id", how="left")
        missing = self._missing(hit)
        if missing:
            raise FastbuildError(
                f"score store {self.path} has no scores for {len(missing)} gene(s), e.g. {missing[0]}; score them first"
            )
        frames = []
        for (file,), part in hit.group_by(["file"], maintain_order=True):
            frames.append(_spans_frame(self._read_chunk(file, set(part["gene_id"].to_list()))))
        if not frames:
            out = pl.DataFrame(schema=LOAD_SCHEMA)
        else:
            out = pl.concat(frames).cast(LOAD_SCHEMA)
            order = want.unique("gene_id", keep="first")
            out = out.join(order, on="gene_id", how="left").sort(["_order", "position"]).drop("_order")
        if as_dict:
            return {g: df for (g,), df in out.group_by(["gene_id"], maintain_order=True)}
        return out

    def load_gene(self, gene_id: str) -> pl.DataFrame:
        """Scores of one gene (see :meth:`load`)."""
        return self.load([gene_id])

    def iter_gene_scores(self, genes: pl.DataFrame):
        """Stream genes' scores, one chunk file in memory at a time.

        Parameters
        ----------
        genes : polars.DataFrame
            Rows of the genes table (gene_id, chrom, start, end, strand, ...), in the order wanted.

        Yields
        ------
        tuple
            ``(gene row dict, donor, acceptor, neither)``, the scores as numpy arrays in transcript
            orientation (:func:`fastbuild.coords.orient`). Genes come grouped by chunk file, the
            files in the order of their first gene, genes within a file in the order given.

        Raises
        ------
        FastbuildError
            When a gene has no scores in the store, or its scores do not cover ``start..end``
            position by position, or a chunk cannot be read.
        """
        if genes.height == 0:
            return
        idx = self.index().select("gene_id", "file")
        where = genes.select("gene_id").with_row_index("_order").join(idx, on="gene_id", how="left")
        missing = self._missing(where)
        if missing:
            raise FastbuildError(
                f"score store {self.path} has no scores for {len(missing)} gene(s), e.g. {', '.join(missing[:5])}; "
                f"score them with fastbuild predict{self.unindexed_hint()}"
            )
        by_file: dict[str, list[str]] = {}  # files in the order of their first gene, genes in the order given
        for gene_id, file in where.sort("_order").select("gene_id", "file").iter_rows():
            by_file.setdefault(file, []).append(gene_id)
        rows = {r["gene_id"]: r for r in genes.iter_rows(named=True)}
        for file, ids in by_file.items():
            spans = self._read_chunk(file, set(ids))
            for gene_id in ids:
                info = rows[gene_id]
                yield (info, *(orient(c, info["strand"]) for c in self._covering(spans, info)[1:]))
            del spans

    def _covering(self, spans: dict, info: dict) -> tuple:
        """The span of gene ``info`` in ``spans``, checked to cover start..end position by position."""
        got = spans.get(info["gene_id"])
        n = info["end"] - info["start"] + 1
        if got is None or got[0].size != n or got[0][0] != info["start"] or got[0][-1] != info["end"]:
            raise FastbuildError(
                f"score store {self.path} does not cover gene {info['gene_id']} "
                f"({info['chrom']}:{info['start']}-{info['end']}) position by position; "
                "rescore it with this annotation (fastbuild predict)"
            )
        return got

    # ------------------------------------------------------------------ writing
    def chunk_name(self, chrom: str, gene_ids, first: int, last: int) -> Path:
        """Path, relative to the store, of the chunk of ``gene_ids`` on ``chrom`` spanning first..last.

        ``scores/<chrom>/chunk_<first>_<last>_<tag>.parquet``: the chromosome name with
        characters other than letters, digits and ``._-`` replaced by ``_``, the positions as
        ten digits, and the tag the first 8 hex digits of the sha256 of the gene ids joined by
        newlines (so a chunk of other genes over the same span never reuses the file).
        """
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(chrom))
        tag = hashlib.sha256("\n".join(gene_ids).encode()).hexdigest()[:8]
        return Path("scores") / safe / f"chunk_{first:010d}_{last:010d}_{tag}.parquet"

    def chunk_done(self, rel: Path, gene_ids) -> bool:
        """True when chunk ``rel`` exists and holds exactly ``gene_ids``."""
        p = self.path / rel
        if not p.is_file():
            return False
        try:
            md = pq.read_metadata(p).metadata or {}
        except Exception:
            return False
        stored = md.get(_META_KEY)
        return stored is not None and json.loads(stored) == list(gene_ids)

    def write_chunk(self, rel: Path, frames: list[tuple[str, np.ndarray, np.ndarray]], mantissa_bits: int = 23,
                    engine: str | None = None) -> int:
        """Write one chunk. ``frames``: (gene_id, positions int64 ascending, scores [n, 3] in
        (neither, acceptor, donor) order); ``engine``: the backend that computed them (recorded
        in the chunk's metadata with the store's precision). Returns the number of rows.

        Each gene is one row group, and the genes' row counts are recorded in the chunk's
        metadata (see the module docstring), so readers read only the genes they want.
        """
        ids, pos, sc, counts = [], [], [], []
        for gid, p, s in frames:
            ids.append(gid)
            pos.append(np.asarray(p, dtype=np.int64))
            sc.append(np.asarray(s, dtype=np.float32))
            counts.append(len(p))
        n = int(sum(counts))
        positions = np.concatenate(pos) if pos else np.zeros(0, np.int64)
        scores = np.concatenate(sc) if sc else np.zeros((0, 3), np.float32)
        scores = round_mantissa(scores, mantissa_bits)
        gene_col = pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(len(ids), dtype=np.int32), counts)), pa.array(ids, type=pa.string())
        )
        table = pa.table(
            {
                "gene_id": gene_col,
                "position": pa.array(positions),
                "donor": pa.array(np.ascontiguousarray(scores[:, 2])),
                "acceptor": pa.array(np.ascontiguousarray(scores[:, 1])),
                "neither": pa.array(np.ascontiguousarray(scores[:, 0])),
            }
        )
        table = table.replace_schema_metadata({_META_KEY: json.dumps(ids).encode(),
                                               _ROWS_KEY: json.dumps(counts).encode(),
                                               _ENGINE_KEY: json.dumps({"engine": engine, "precision": self.precision,
                                                                        "mantissa_bits": mantissa_bits}).encode()})
        dest = self.path / rel
        ensure_dir(dest.parent)
        with atomic_path(dest) as tmp:
            _write_gene_row_groups(table, counts, tmp)
        return n

    def update_index(self, entries: pl.DataFrame) -> None:
        """Add or replace index rows (by gene_id) and write index.parquet atomically.

        Under :meth:`writer_lock`, merged into the index as it is on disk now (not as this
        process read it earlier), so concurrent writers never drop each other's genes.
        """
        entries = entries.select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA)
        with self.writer_lock():
            old = self._read_index()
            if old.height:
                old = old.filter(~pl.col("gene_id").is_in(entries["gene_id"].implode()))
            idx = pl.concat([old, entries]).sort(["chrom", "start", "gene_id"])
            with atomic_path(self.path / INDEX_FILE) as tmp:
                idx.write_parquet(tmp, compression="zstd")
        self._index = idx

    def record_chunk(self, rel: Path, genes: pl.DataFrame) -> None:
        """Index ``genes`` (gene_id, chrom, strand, start, end) as held by chunk ``rel``."""
        self.record_chunks([(rel, genes)])

    def record_chunks(self, chunks) -> None:
        """Index several ``(rel, genes)`` chunks in one index update."""
        frames = [g.with_columns(pl.lit(str(rel)).alias("file"), (pl.col("end") - pl.col("start") + 1).alias("n_rows"))
                  .select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA) for rel, g in chunks]
        if frames:
            self.update_index(pl.concat(frames))


def _write_gene_row_groups(table: pa.Table, counts: list[int], dest) -> None:
    """Write ``table`` to ``dest`` with one row group per gene (``counts``: rows of each gene, in order)."""
    with pq.ParquetWriter(
        dest,
        table.schema,
        compression="zstd",
        compression_level=9,
        use_dictionary=["gene_id"],
        column_encoding={
            "position": "DELTA_BINARY_PACKED",
            "donor": "BYTE_STREAM_SPLIT",
            "acceptor": "BYTE_STREAM_SPLIT",
            "neither": "BYTE_STREAM_SPLIT",
        },
        write_statistics=["gene_id", "position"],
    ) as writer:
        offset = 0
        for count in counts:
            if count:
                writer.write_table(table.slice(offset, count), row_group_size=count)
            offset += count


def _gene_rows(meta: pq.FileMetaData) -> tuple[list[str], np.ndarray] | None:
    """(gene ids, rows per gene) recorded by a chunk written with one row group per gene, else None.

    None also when the record does not add up (fewer or more rows than the file): the chunk is
    then read whole, like a chunk written before the record existed.
    """
    kv = meta.metadata or {}
    if _ROWS_KEY not in kv or _META_KEY not in kv:
        return None
    try:
        ids, counts = json.loads(kv[_META_KEY]), np.asarray(json.loads(kv[_ROWS_KEY]), np.int64)
    except ValueError:
        return None
    if counts.ndim != 1 or len(ids) != counts.size or int(counts.sum()) != meta.num_rows or (counts < 0).any():
        return None
    return ids, counts


def _read_wanted_row_groups(pf: pq.ParquetFile, ids: list[str], counts: np.ndarray, wanted: set) -> dict:
    """The spans of the wanted genes of a chunk, reading only the row groups that hold them."""
    meta = pf.metadata
    group_start = np.concatenate([[0], np.cumsum([meta.row_group(i).num_rows for i in range(meta.num_row_groups)])])
    gene_start = np.concatenate([[0], np.cumsum(counts)])
    where = {gid: i for i, gid in enumerate(ids) if gid in wanted and counts[i]}  # the last of repeated ids
    first = np.searchsorted(group_start, [gene_start[i] for i in where.values()], side="right") - 1
    last = np.searchsorted(group_start, [gene_start[i + 1] - 1 for i in where.values()], side="right") - 1
    groups = sorted({g for a, b in zip(first.tolist(), last.tolist(), strict=True) for g in range(a, b + 1)})
    if not groups:
        return {}
    table = pf.read_row_groups(groups, columns=["position", *SCORE_COLUMNS])
    cols = [to_numpy(table.column(c)) for c in ("position", *SCORE_COLUMNS)]
    # row of the table where each selected row group starts
    at = dict(zip(groups, np.cumsum([0] + [meta.row_group(g).num_rows for g in groups[:-1]]).tolist(), strict=True))
    out = {}
    for (gid, i), g in zip(where.items(), first.tolist(), strict=True):
        a = at[g] + int(gene_start[i] - group_start[g])
        out[gid] = tuple(c[a:a + int(counts[i])] for c in cols)
    return out


def _runs_of_wanted(table: pa.Table, wanted: set) -> dict:
    """The spans of the wanted genes of a whole chunk table, found as runs of one gene id."""
    gene = table.column("gene_id").combine_chunks()
    if not pa.types.is_dictionary(gene.type):
        gene = gene.dictionary_encode()
    names = gene.dictionary.to_pylist()
    indices = gene.indices
    codes = to_numpy(indices) if not indices.null_count else indices.to_numpy(zero_copy_only=False)
    cols = [to_numpy(table.column(c)) for c in ("position", *SCORE_COLUMNS)]
    change = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], change]) if codes.size else np.zeros(0, np.int64)
    stops = np.concatenate([change, [codes.size]]) if codes.size else np.zeros(0, np.int64)
    out = {}
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        name = names[codes[a]]
        if name in wanted:
            out[name] = tuple(np.ascontiguousarray(c[a:b]) for c in cols)
    return out


def _spans_frame(spans: dict) -> pl.DataFrame:
    """One DataFrame (gene_id, position, donor, acceptor, neither) of :meth:`ScoreStore._read_chunk` spans."""
    ids = list(spans)
    if not ids:
        return pl.DataFrame(schema=LOAD_SCHEMA)
    lengths = [spans[g][0].size for g in ids]
    cols = [np.concatenate([spans[g][k] for g in ids]) for k in range(1 + len(SCORE_COLUMNS))]
    gene = pl.Series("gene_id", ids, dtype=pl.Utf8).gather(np.repeat(np.arange(len(ids)), lengths))
    names = ("position", *SCORE_COLUMNS)
    return pl.DataFrame([gene, *(pl.Series(name, c) for name, c in zip(names, cols, strict=True))])
