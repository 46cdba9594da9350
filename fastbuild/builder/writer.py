"""Streaming batch-file writer: bounded row buffer -> row groups encoded on threads -> fsync -> rename -> link.

A batch file is written as ``batch_00001_trim.parquet.<host>.<pid>.tmp`` (a name of its own per
writing process, so a retried unit never writes into the file of a dying one); only a complete
file (with its statistics in the Parquet key-value metadata) is renamed to
``batch_00001_trim.parquet``; its sha256 is then recorded in ``batch_00001_trim.parquet.sha256``.
A file under its final name is therefore always a finished batch, and an interrupted batch leaves
only a ``.tmp``. Finalising hard-links (or copies) the files into
``master/`` (:func:`link_master`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import fastbuild_kernels as kernels
from fastbuild.atomic import fsync_dir, io_error, tmp_path, write_text
from fastbuild.builder.columns import Chunk, ColumnBuffer
from fastbuild.builder.parquet_join import JoinedFile, StreamEncoder, empty_footer
from fastbuild.builder.stats import STATS_KEY, BatchStats
from fastbuild.files import sha256_file


def batch_name(index: int) -> str:
    return f"batch_{index:05d}_trim.parquet"


def master_name(index: int) -> str:
    return f"batch_{index:05d}.parquet"


#: Float columns written PLAIN and uncompressed: the base model's scores at a position and its
#: +-2 neighbours and what is derived from them. Per-position float32 probabilities are close to
#: incompressible (LZ4 over their BYTE_STREAM_SPLIT pages keeps 88-100% of the bytes on real
#: Arabidopsis scores) yet took ~40% of the writer's CPU time.
DENSE_FLOATS = frozenset(
    [n for n in kernels.CONTEXT_FEATURES if not n.endswith("_is_local_peak")] + ["donor_score", "acceptor_score"])


def parquet_options(schema: pa.Schema) -> dict:
    """``ParquetWriter`` options of a batch file.

    LZ4 pages (pyarrow's ``lz4``: Parquet's LZ4_RAW codec) for every column but the
    :data:`DENSE_FLOATS`, which are stored PLAIN and uncompressed; the other float columns
    BYTE_STREAM_SPLIT-encoded (their bytes regrouped by significance, which LZ4 compresses better
    than the plain floats); dictionary encoding for string columns only; statistics for
    ``gene_id``, ``position`` and ``chrom`` only.  Against zstd level 1 with plain floats (the
    layout before 2026-12-04) LZ4 with BYTE_STREAM_SPLIT wrote a 167-column k=3 batch with a third
    less CPU time and ~2% smaller, a sparse k=6 batch with a sixth less CPU time and ~25% larger
    (its k-mer list columns compress less well with LZ4); leaving the dense floats uncompressed
    (2026-12-05) took another ~17% off the k=3 writer's CPU time for a file ~5% larger. The rows
    are the same (docs/benchmarks.md).

    Parameters
    ----------
    schema : pyarrow.Schema
        The batch file's schema.

    Returns
    -------
    dict
        Keyword arguments for :class:`pyarrow.parquet.ParquetWriter`.
    """
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    # per-column settings name leaf columns: a list column's values are "NAME.list.element"; a
    # column not named gets no compression at all, so other nested types are refused here
    for f in schema:
        if pa.types.is_nested(f.type) and not pa.types.is_list(f.type):
            raise TypeError(f"parquet_options: no leaf path known for column {f.name!r} of type {f.type}")
    leaves = [f"{f.name}.list.element" if pa.types.is_list(f.type) else f.name for f in schema]
    return dict(compression={leaf: "none" if leaf in DENSE_FLOATS else "lz4" for leaf in leaves},
                use_dictionary=strings, write_statistics=["gene_id", "position", "chrom"],
                column_encoding={name: "BYTE_STREAM_SPLIT" for name in floats if name not in DENSE_FLOATS})


class GrowingFileDigest:
    """sha256 of a file that is being appended to, hashed as it grows.

    :meth:`catch_up` hashes the file up to a size observed while no write was in flight (bytes
    that another thread may be writing meanwhile are beyond it) and is called by one thread at a
    time; :meth:`hexdigest` once the file is closed and caught up to its final size. Sound for a
    file that is only ever appended to, as a batch file is (:class:`JoinedFile` appends row
    groups, then the footer): a byte once in the file never changes. Bytes caught up are also
    pushed to disk (``fdatasync``) every :attr:`SYNC_BYTES`, so the final ``fsync`` has little
    left to write.
    Each call opens and closes the file itself: no descriptor outlives it, whatever interrupts
    its caller.

    On 1,000 Arabidopsis genes (874,061 rows in one file of 234 MB at k = 3, 373 MB at k = 6
    sparse) hashing and syncing the whole file after it was closed took 0.19 s and 0.35 s, every
    row written and nothing else to do meanwhile (docs/benchmarks.md).
    """

    BLOCK = 1 << 22
    SYNC_BYTES = 16 << 20

    def __init__(self, path: Path):
        self.path = path
        self._buf: bytearray | None = None
        self._hash = hashlib.sha256()
        self._done = 0
        self._unsynced = 0

    def catch_up(self, end: int, sync: bool = True) -> None:
        """Hash the file's bytes up to offset ``end``; ``fdatasync`` when ``sync`` and
        :attr:`SYNC_BYTES` are unsynced."""
        if self._buf is None:
            self._buf = bytearray(self.BLOCK)
        view = memoryview(self._buf)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            while self._done < end:
                n = os.preadv(fd, [view[:min(self.BLOCK, end - self._done)]], self._done)
                if n <= 0:
                    raise OSError(f"{self.path} is shorter than {end} bytes while it is hashed")
                self._hash.update(view[:n])  # (hashlib releases the GIL for blocks over 2 KiB)
                self._done += n
                self._unsynced += n
            if sync and self._unsynced >= self.SYNC_BYTES:
                _fdatasync(fd)
                self._unsynced = 0
        finally:
            os.close(fd)

    def hexdigest(self, size: int) -> str:
        """The digest of the whole file, which must be ``size`` bytes long and caught up."""
        if self._done != size:
            raise RuntimeError(f"{self.path}: {self._done} of {size} bytes hashed")
        return self._hash.hexdigest()


_fdatasync = getattr(os, "fdatasync", os.fsync)  # (macOS has no fdatasync)


def encoder_threads(jobs: int = 1) -> int:
    """Threads that encode a batch file's row groups in a process that runs ``jobs`` units at once.

    The CPUs this process may use (its affinity) divided among the jobs, at least 1 and at most 3:
    each encoder holds a record batch, and three outpace the thread that makes them even at k = 6
    sparse (~6 µs of encoding per row against ~2.5 µs to make it, on the 2-vCPU build VM). The
    file's bytes do not depend on it.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # (macOS)
        cpus = os.cpu_count() or 1
    return min(3, max(1, cpus // max(1, jobs)))


def _yield_cpu() -> None:
    """Lower the calling thread's scheduling priority (nice + 5, Linux): an encoder thread gives
    way to the thread that makes the record batches, which would otherwise wait for a CPU
    behind two encoders. On 1,000 Arabidopsis genes (2 vCPUs, in-process, three pairs) a k = 6
    sparse build took 4.43-4.72 s with it against 4.96-5.23 s without; k = 3 the same within
    noise (1.67-1.86 against 1.65-1.74 s)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 5))
    except (AttributeError, OSError):  # (no per-thread priority here)
        pass


class BatchFileWriter:
    """Writes one batch file atomically; use :meth:`add`, then :meth:`finish` or :meth:`abort`.

    Each record batch is encoded as a row group on one of ``encoders`` threads while the caller
    makes the next one (pyarrow's Parquet writer releases the GIL), each thread with a writer of
    its own, and the row groups are joined into the file in order
    (:mod:`fastbuild.builder.parquet_join`): the same bytes as one ``ParquetWriter`` writes from
    the same record batches, whatever the number of threads. On 1,000 Arabidopsis genes on 2 CPUs
    a sparse k = 6 build, whose k-mer list columns kept one writer thread busy from its first
    record batch to its last, went from 6.24 to 4.94 s (best of 3, side by side), k = 3 from 2.29
    to 2.14 s (docs/benchmarks.md).

    Memory: at most ``encoders`` record batches are in flight, so memory holds ``encoders + 1``
    record batches (those being encoded and the one being filled), each encoder's scratch buffers
    and the row groups encoded but not yet appended, besides the rows of the current gene. Peak
    RSS of those 1,000 genes with two encoders: 917-923 MiB at k = 6 sparse and 445-452 MiB at
    k = 3, against 685-699 and 425-434 MiB with one. The file is hashed, and pushed to disk, as
    it grows, on a thread of its own (:class:`GrowingFileDigest`): closing it leaves only its tail
    to hash and sync. Every exit waits for the record batches in flight before the file is closed
    or removed: an interrupted unit leaves no temporary file.
    """

    def __init__(self, out_dir: Path, index: int, schema: pa.Schema, batch_rows: int, encoders: int = 1):
        if encoders < 1:
            raise ValueError(f"BatchFileWriter: encoders must be >= 1, got {encoders}")
        self.path = Path(out_dir) / batch_name(index)
        self.tmp = tmp_path(self.path)
        self.schema = schema
        self.encoders = encoders
        self.buffer = ColumnBuffer(schema, batch_rows, self._write)
        self._options = parquet_options(schema)
        self._encoders: dict[int, StreamEncoder] = {}  # thread -> its writer
        self._pool = ThreadPoolExecutor(encoders, thread_name_prefix="fastbuild-writer", initializer=_yield_cpu)
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="fastbuild-hasher")
        self._digest = GrowingFileDigest(self.tmp)
        self._hashing: list = []  # the hasher's futures, in order
        self._pending: deque = deque()  # the encoders' futures, in order
        self._parts = 0
        self._fh = None
        self._joined: JoinedFile | None = None  # the file is created by the first write (see _open)

    def _open(self) -> JoinedFile:
        """The file the row groups are joined into, created on first use.

        Not in ``__init__``: an interruption between the constructor's return and the caller's
        assignment would leave a file that no :meth:`abort` knows of. Interrupted while opening,
        :meth:`abort` still removes the file (its name is known from the start).
        """
        if self._joined is None:
            try:
                self._fh = open(self.tmp, "wb")
                self._joined = JoinedFile(self._fh, self._hash_written)
            except OSError as exc:
                self.abort()
                raise io_error(self.tmp, exc) from None
        return self._joined

    def _encode_part(self, rb: pa.RecordBatch) -> tuple[list, int, int]:
        """On an encoder thread: ``rb`` as a row group by this thread's writer: (its bytes, the
        writer's key, where they start in its stream)."""
        key = threading.get_ident()
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders[key] = StreamEncoder(self.schema, self._options)
        chunks, start = encoder.encode(rb)
        return chunks, key, start

    def _encode(self, index: int, rb: pa.RecordBatch) -> None:
        """On an encoder thread: record batch ``index`` as a row group, joined into the file."""
        self._joined.add(index, *self._encode_part(rb))

    def _wait(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` record batches are in flight; re-raise their errors here.
        (Interrupted, the one waited for stays pending for :meth:`_settle`.)"""
        while len(self._pending) > keep:
            self._pending[0].result()
            self._pending.popleft()

    def _hash_written(self, size: int, sync: bool = True) -> None:
        """Queue the hashing of the file's first ``size`` bytes (all appended)."""
        self._hashing.append(self._hasher.submit(self._digest.catch_up, size, sync))

    def _settle(self) -> None:
        """Drop the hashing not started; wait for the record batches in flight whatever happens
        meanwhile (a second Ctrl-C, their errors), then stop the encoder and hasher threads:
        nothing may touch the file while it is written. (The hasher holds no descriptor between
        its calls.)"""
        self._hasher.shutdown(wait=False, cancel_futures=True)
        try:
            for fut in list(self._pending):
                while not fut.done():
                    try:
                        wait([fut])
                    except BaseException:  # interrupted again: keep waiting, the encoding is short
                        continue
        finally:  # a stop raised between two waits: the threads are still joined (they end their work)
            self._pending.clear()
            try:
                self._pool.shutdown(wait=True)
            finally:
                self._hasher.shutdown(wait=True)

    def _write(self, rb: pa.RecordBatch) -> None:
        try:
            self._open()
            self._wait(keep=self.encoders - 1)
            self._pending.append(self._pool.submit(self._encode, self._parts, rb))
            self._parts += 1
        except OSError as exc:
            self.abort()
            raise io_error(self.tmp, exc) from None

    def add(self, chunk: Chunk) -> None:
        self.buffer.add(chunk)

    def finish(self, stats: BatchStats) -> Path:
        """Flush, record ``stats`` in the file's metadata, close, fsync, rename; then record its checksum."""
        try:
            self.buffer.flush()
            self._wait()
            joined = self._open()  # (a batch of no rows is a file too)
            footers = {key: encoder.close() for key, encoder in self._encoders.items()}
            size = joined.close(empty_footer(self.schema, self._options), footers, {STATS_KEY: stats.to_json()})
            self._hash_written(size, sync=False)  # its tail is hashed while the file is fsynced here
            os.fsync(self._fh.fileno())
            self._fh.close()
            for fut in self._hashing:
                fut.result()
            digest = self._digest.hexdigest(size)
            self._settle()
            os.replace(self.tmp, self.path)
            fsync_dir(self.path.parent)
        except OSError as exc:
            self.abort()
            raise io_error(self.path, exc) from None
        record_checksum(self.path, digest)
        return self.path

    def abort(self) -> None:
        try:
            self._settle()
        finally:  # the file goes even when a stop lands here
            self._encoders.clear()  # (their writers write only into memory)
            try:
                if self._fh is not None:
                    self._fh.close()
            except Exception:
                pass
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def link_master(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (copy, atomically, when linking fails)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if os.path.samefile(src, dst):
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        tmp = tmp_path(dst)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except OSError as exc:
            raise io_error(dst, exc) from None


def read_footer(path: Path) -> tuple[BatchStats | None, int]:
    """(statistics stored in a finished batch file or None when unreadable/unfinished, its row count)."""
    try:
        md = pq.read_metadata(path)
        raw = (md.metadata or {}).get(STATS_KEY.encode())
        return (BatchStats.from_json(raw) if raw else None), md.num_rows
    except Exception:
        return None, 0


def checksum_path(path: Path) -> Path:
    """Where the sha256 of a finished batch file is recorded (``NAME.sha256``)."""
    return path.with_name(path.name + ".sha256")


def record_checksum(path: Path, digest: str | None = None) -> str:
    """Hash a finished batch file (by the process that wrote it, while it is in the page cache) and
    record the digest beside it with the file's size and mtime, so finalise need not reread it.
    ``digest``: the file's sha256 when the caller has it already."""
    digest = digest or sha256_file(path)
    st = path.stat()
    write_text(checksum_path(path), json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    return digest


def unit_checksum(path: Path) -> str:
    """The recorded sha256 of ``path`` when the record matches the file's size and mtime, else hashed now."""
    try:
        rec = json.loads(checksum_path(path).read_text())
        st = path.stat()
        if rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns:
            return rec["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return record_checksum(path)
