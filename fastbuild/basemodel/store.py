"""Score store: per-position base-model scores on disk, one Parquet file per chromosome chunk.

Layout of a store directory::

    store.json                       format version + identity of the model that wrote it
    index.parquet                    gene_id, chrom, strand, start, end, file, n_rows
    scores/<chrom>/chunk_<first>_<last>.parquet
                                     gene_id, position (1-based), donor, acceptor, neither
                                     rows per gene in ascending genomic position

Every file is written atomically (``*.tmp``, fsync, rename). A chunk file carries the ids of its
genes in its Parquet metadata, so an interrupted run resumes by skipping chunks already on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from fastbuild.atomic import atomic_path, ensure_dir, write_text
from fastbuild.errors import FastbuildError

FORMAT_VERSION = 1
SCORE_COLUMNS = ("donor", "acceptor", "neither")
_META_KEY = b"fastbuild.genes"

INDEX_SCHEMA = {
    "gene_id": pl.Utf8,
    "chrom": pl.Utf8,
    "strand": pl.Utf8,
    "start": pl.Int64,
    "end": pl.Int64,
    "file": pl.Utf8,
    "n_rows": pl.Int64,
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


def identity_mismatch(found: dict, wanted: dict) -> str | None:
    if found.get("digest") == wanted.get("digest"):
        return None
    return f"{found.get('name', '?')} ({str(found.get('digest', '?'))[:12]}) vs {wanted.get('name', '?')} ({str(wanted.get('digest', '?'))[:12]})"


class ScoreStore:
    """Reader (and low-level writer) of a score store directory."""

    def __init__(self, path):
        self.path = Path(path)
        meta = self.path / "store.json"
        if not meta.is_file():
            raise FastbuildError(f"not a score store (no store.json): {self.path}")
        try:
            self.meta = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise FastbuildError(f"cannot read {meta}: {exc}") from None
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise FastbuildError(f"{meta}: unsupported score store format {self.meta.get('format_version')!r}")
        self._index = None

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path, identity: dict, overwrite: bool = False, extra: dict | None = None) -> "ScoreStore":
        """Open ``path`` for writing scores of the model ``identity``.

        A store written by a different model is refused unless ``overwrite`` (then its scores
        are removed first).
        """
        path = ensure_dir(path)
        meta_path = path / "store.json"
        if meta_path.is_file():
            store = cls(path)
            diff = identity_mismatch(store.model_identity, identity)
            if diff is None:
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
        meta = {"format_version": FORMAT_VERSION, "model": identity, "columns": list(SCORE_COLUMNS)}
        if extra:
            meta.update(extra)
        write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
        return cls(path)

    def clear(self) -> None:
        import shutil

        for name in ("scores", "index.parquet", "store.json"):
            p = self.path / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        self._index = None

    # ------------------------------------------------------------------ metadata
    @property
    def model_identity(self) -> dict:
        return self.meta["model"]

    def check_model(self, identity: dict) -> None:
        """Raise FastbuildError unless the store was written by the model ``identity``."""
        diff = identity_mismatch(self.model_identity, identity)
        if diff is not None:
            raise FastbuildError(f"score store {self.path} was written by a different model ({diff})")

    def index(self) -> pl.DataFrame:
        if self._index is None:
            p = self.path / "index.parquet"
            self._index = pl.read_parquet(p) if p.is_file() else pl.DataFrame(schema=INDEX_SCHEMA)
        return self._index

    def genes(self) -> list[str]:
        """Ids of the genes that have scores in the store."""
        return self.index()["gene_id"].to_list()

    def __contains__(self, gene_id) -> bool:
        return gene_id in set(self.index()["gene_id"].to_list())

    # ------------------------------------------------------------------ reading
    def load(self, gene_ids=None, as_dict: bool = False):
        """Scores of ``gene_ids`` (all genes when None), reading only the chunks that hold them.

        Returns a polars DataFrame (gene_id, position, donor, acceptor, neither), genes in the
        order asked and positions ascending; or, with ``as_dict``, gene_id -> DataFrame.
        Unknown gene ids raise FastbuildError.
        """
        idx = self.index()
        if gene_ids is None:
            gene_ids = idx["gene_id"].to_list()
        elif isinstance(gene_ids, str):
            gene_ids = [gene_ids]
        gene_ids = list(gene_ids)
        want = pl.DataFrame({"gene_id": gene_ids}, schema={"gene_id": pl.Utf8}).with_row_index("_order")
        hit = want.join(idx, on="gene_id", how="left")
        missing = hit.filter(pl.col("file").is_null())["gene_id"].to_list()
        if missing:
            raise FastbuildError(
                f"score store {self.path} has no scores for {len(missing)} gene(s), e.g. {missing[0]}; score them first"
            )
        frames = []
        for (file,), part in hit.group_by(["file"], maintain_order=True):
            ids = part["gene_id"].unique().implode()
            try:
                df = pl.read_parquet(self.path / file)
            except Exception as exc:
                raise FastbuildError(f"cannot read score chunk {self.path / file}: {exc}") from None
            frames.append(df.filter(pl.col("gene_id").is_in(ids)))
        schema = {"gene_id": pl.Utf8, "position": pl.Int64, "donor": pl.Float32, "acceptor": pl.Float32, "neither": pl.Float32}
        if not frames:
            out = pl.DataFrame(schema=schema)
        else:
            out = pl.concat(frames).cast(schema)
            order = want.unique("gene_id", keep="first")
            out = out.join(order, on="gene_id", how="left").sort(["_order", "position"]).drop("_order")
        if as_dict:
            return {g: df for (g,), df in out.group_by(["gene_id"], maintain_order=True)}
        return out

    def load_gene(self, gene_id: str) -> pl.DataFrame:
        return self.load([gene_id])

    # ------------------------------------------------------------------ writing
    def chunk_path(self, chrom: str, first: int, last: int) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(chrom))
        return Path("scores") / safe / f"chunk_{first:010d}_{last:010d}.parquet"

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

    def write_chunk(self, rel: Path, frames: list[tuple[str, np.ndarray, np.ndarray]], mantissa_bits: int = 23) -> int:
        """Write one chunk. ``frames``: (gene_id, positions int64 ascending, scores [n, 3] in
        (neither, acceptor, donor) order). Returns the number of rows."""
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
        table = table.replace_schema_metadata({_META_KEY: json.dumps(ids).encode()})
        dest = self.path / rel
        ensure_dir(dest.parent)
        with atomic_path(dest) as tmp:
            pq.write_table(
                table,
                tmp,
                compression="zstd",
                compression_level=9,
                use_dictionary=["gene_id"],
                column_encoding={
                    "position": "DELTA_BINARY_PACKED",
                    "donor": "BYTE_STREAM_SPLIT",
                    "acceptor": "BYTE_STREAM_SPLIT",
                    "neither": "BYTE_STREAM_SPLIT",
                },
                row_group_size=1 << 20,
            )
        return n

    def update_index(self, entries: pl.DataFrame) -> None:
        """Add or replace index rows (by gene_id) and write index.parquet atomically."""
        entries = entries.select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA)
        old = self.index()
        if old.height:
            old = old.filter(~pl.col("gene_id").is_in(entries["gene_id"].implode()))
        idx = pl.concat([old.cast(INDEX_SCHEMA), entries]).sort(["chrom", "start", "gene_id"])
        with atomic_path(self.path / "index.parquet") as tmp:
            idx.write_parquet(tmp, compression="zstd")
        self._index = idx
