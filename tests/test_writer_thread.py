"""The batch-file writer's threads (fastbuild.builder.writer.BatchFileWriter): record batches are
encoded while the next is made, joined into the file in order, and every exit waits for the
record batches in flight."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastbuild.builder.columns import Chunk
from fastbuild.builder.stats import BatchStats
from fastbuild.builder.writer import BatchFileWriter
from fastbuild.errors import FastbuildError

SCHEMA = pa.schema([("position", pa.int64()), ("donor_score", pa.float32())])


def _chunk(a: int, m: int) -> Chunk:
    return Chunk(m, {"position": np.arange(a, a + m, dtype=np.int64),
                     "donor_score": np.linspace(0, 1, m, dtype=np.float32)})


def _slow(writer: BatchFileWriter, seconds, log: list, fail: bool = False):
    """Make ``writer``'s encoding take ``seconds`` (or ``seconds(rows)``) per record batch, logged."""
    real = writer._encode_part

    def encode(rb):
        log.append(("start", threading.current_thread().name))
        time.sleep(seconds(rb.num_rows) if callable(seconds) else seconds)
        if fail:
            raise OSError(28, "No space left on device")
        part = real(rb)
        log.append(("end", rb.num_rows))
        return part

    writer._encode_part = encode


@pytest.mark.parametrize("encoders", [1, 2, 3])
def test_batches_are_encoded_on_the_threads_and_joined_in_order(tmp_path, encoders):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=100, encoders=encoders)
    log: list = []
    _slow(w, lambda rows: 0.05 if rows == 100 else 0.0, log)  # the last, short one finishes first
    for a in range(0, 1030, 70):
        w.add(_chunk(a, min(70, 1030 - a)))
    path = w.finish(BatchStats(index=1, config_hash="test", rows=1030, positions=1030, counts=(), genes=()))
    assert all(name.startswith("fastbuild-writer") for kind, name in log if kind == "start")
    assert len({name for kind, name in log if kind == "start"}) == encoders
    got = pq.read_table(path)
    assert got.num_rows == 1030 and got["position"].to_pylist() == list(range(1030))
    assert pq.ParquetFile(path).metadata.num_row_groups == 11
    assert not any(t.is_alive() for t in w._pool._threads)  # the threads are gone: the fast exit can run


def test_the_file_is_the_same_bytes_whatever_the_encoders(tmp_path):
    """Joined row groups (any number of threads) = one ParquetWriter over the same record batches."""
    from fastbuild.builder.stats import STATS_KEY
    from fastbuild.builder.writer import parquet_options

    stats = BatchStats(index=1, config_hash="test", rows=1000, positions=1000, counts=(), genes=())
    files = []
    for encoders in (1, 2, 3):
        w = BatchFileWriter(tmp_path / str(encoders), 1, SCHEMA, batch_rows=64, encoders=encoders)
        (tmp_path / str(encoders)).mkdir()
        for a in range(0, 1000, 90):
            w.add(_chunk(a, min(90, 1000 - a)))
        files.append(w.finish(stats).read_bytes())
    one = tmp_path / "one.parquet"
    pw = pq.ParquetWriter(one, SCHEMA, **parquet_options(SCHEMA))
    chunks = [_chunk(a, min(90, 1000 - a)) for a in range(0, 1000, 90)]
    cols = {name: np.concatenate([c.arrays[name] for c in chunks]) for name in SCHEMA.names}
    for a in range(0, 1000, 64):
        rb = pa.record_batch([pa.array(cols[name][a:a + 64]) for name in SCHEMA.names], schema=SCHEMA)
        pw.write_batch(rb, row_group_size=rb.num_rows)
    pw.add_key_value_metadata({STATS_KEY: stats.to_json()})
    pw.close()
    assert files[0] == files[1] == files[2] == one.read_bytes()


@pytest.mark.parametrize("encoders", [1, 2])
def test_abort_waits_for_the_record_batches_in_flight_and_leaves_no_file(tmp_path, encoders):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50, encoders=encoders)
    log: list = []
    _slow(w, 0.4, log)
    for a in range(0, 50 * encoders, 50):
        w.add(_chunk(a, 50))  # record batches handed to the threads
    assert len(w._pending) == encoders and not any(f.done() for f in w._pending)
    w.abort()  # as run_batch does on SIGTERM or an error
    assert log.count(("end", 50)) == encoders, "abort closed the file while a record batch was being encoded"
    assert not list(tmp_path.iterdir()), "an aborted unit left a file"
    assert not _open_fds_to(w.tmp), "an aborted unit left a descriptor on its (deleted) file"
    assert not any(t.is_alive() for t in w._pool._threads)


def test_an_encoding_error_on_the_thread_is_one_line_and_removes_the_file(tmp_path):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50)
    _slow(w, 0.0, [], fail=True)
    w.add(_chunk(0, 50))
    with pytest.raises(FastbuildError, match="disk is full"):
        w.add(_chunk(50, 50))  # the next record batch meets the first one's error
    assert not list(tmp_path.iterdir())


class _FullDisk:
    """A file object whose writes fail once ``after`` bytes are in."""

    def __init__(self, fh, after: int):
        self.fh, self.after, self.n = fh, after, 0

    def write(self, data):
        if self.n + len(data) > self.after:
            raise OSError(28, "No space left on device")
        self.n += len(data)
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)


@pytest.mark.parametrize("encoders", [1, 2])
def test_a_full_disk_while_joining_is_one_line_and_nothing_more_is_appended(tmp_path, encoders):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50, encoders=encoders)
    joined = w._open()
    joined._fh = _FullDisk(joined._fh, after=1500)  # room for about two row groups
    with pytest.raises(FastbuildError, match="disk is full"):
        for a in range(0, 2000, 50):
            w.add(_chunk(a, 50))
        w.finish(_stats(2000))
    assert joined._fh.n <= 1500 and joined.parts < 40
    assert list(tmp_path.iterdir()) == [] and not _open_fds_to(w.tmp)
    assert not any(t.is_alive() for t in w._pool._threads)


def test_the_file_is_created_by_the_first_write_and_abort_before_it_leaves_nothing(tmp_path):
    """An interruption right after the constructor returns (before the caller holds the writer)
    must not leave a file: nothing exists on disk until the first record batch."""
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50)
    assert list(tmp_path.iterdir()) == []
    w.add(_chunk(0, 20))  # buffered, not yet a record batch
    assert list(tmp_path.iterdir()) == []
    w.abort()
    assert list(tmp_path.iterdir()) == []
    w = BatchFileWriter(tmp_path, 2, SCHEMA, batch_rows=50)
    w.add(_chunk(0, 50))
    assert [p.name for p in tmp_path.iterdir()] == [w.tmp.name]
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_batch_of_no_rows_is_a_whole_file(tmp_path):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50)
    path = w.finish(BatchStats(index=1, config_hash="test", rows=0, positions=0, counts=(), genes=()))
    assert pq.read_table(path).num_rows == 0 and pq.read_table(path).schema.names == SCHEMA.names
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".sha256"]


def test_a_stop_while_abort_waits_still_removes_the_file(tmp_path):
    """SIGTERM while abort() waits for the write in flight: the stop lands once the wait returns,
    and the file is removed all the same (the thread joined first)."""
    import os
    import signal

    from fastbuild.cli import sigterm_raises
    from fastbuild.errors import Terminated

    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50)
    log: list = []
    _slow(w, 0.5, log)
    w.add(_chunk(0, 50))
    threading.Thread(target=lambda: (time.sleep(0.1), os.kill(os.getpid(), signal.SIGTERM)), daemon=True).start()
    with pytest.raises(Terminated), sigterm_raises():
        try:
            raise OSError(28, "No space left on device")  # the error that made run_batch abort
        except OSError:
            w.abort()
            time.sleep(5)  # not reached when the stop lands inside abort; else it lands here
    assert ("end", 50) in log  # the write in flight was waited for
    assert list(tmp_path.iterdir()) == []
    assert not any(t.is_alive() for t in w._pool._threads)


def _open_fds_to(path) -> list:
    """This process's descriptors open on ``path`` (Linux; [] elsewhere)."""
    import os

    fds = "/proc/self/fd"
    if not os.path.isdir(fds):
        return []
    out = []
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)).startswith(str(path)):
                out.append(fd)
        except OSError:
            pass
    return out


def _stats(rows: int) -> BatchStats:
    return BatchStats(index=1, config_hash="test", rows=rows, positions=rows, counts=(), genes=())


@pytest.mark.parametrize("batch_rows", [7, 64, 1000])
def test_the_recorded_checksum_is_the_files_sha256(tmp_path, batch_rows):
    """Hashed as it grows (GrowingFileDigest) and caught up after close: the digest is the whole file's."""
    import json

    from fastbuild.files import sha256_file

    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=batch_rows)
    for a in range(0, 900, 37):
        w.add(_chunk(a, min(37, 900 - a)))
    path = w.finish(_stats(900))
    # (before pyarrow reads the file: its reader may close its descriptor a moment after returning)
    assert not _open_fds_to(w.tmp) and not _open_fds_to(path)
    assert not any(t.is_alive() for t in w._hasher._threads)
    rec = json.loads((tmp_path / (path.name + ".sha256")).read_text())
    assert rec["sha256"] == sha256_file(path) and rec["size"] == path.stat().st_size
    assert pq.read_table(path)["position"].to_pylist() == list(range(900))


def test_a_hashing_error_is_one_line_and_removes_the_file(tmp_path, monkeypatch):
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50)

    def fail(end, sync=True):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(w._digest, "catch_up", fail)
    w.add(_chunk(0, 120))
    with pytest.raises(FastbuildError, match=r"batch_00001_trim\.parquet"):
        w.finish(_stats(120))
    assert list(tmp_path.iterdir()) == []


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is a test extra
    given = None

if given is not None:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.binary(max_size=300), st.booleans()), max_size=12), st.integers(1, 64))
    def test_growing_file_digest_is_the_sha256_of_what_was_appended(tmp_path_factory, parts, block):
        """Appends of any sizes, caught up at any of them (or not), with blocks of any size."""
        import hashlib

        from fastbuild.builder.writer import GrowingFileDigest

        path = tmp_path_factory.mktemp("digest") / "f"
        path.write_bytes(b"")
        d = GrowingFileDigest(path)
        d.BLOCK, d.SYNC_BYTES = block, 100
        size = 0
        with open(path, "ab") as fh:
            for data, catch in parts:
                fh.write(data)
                fh.flush()
                size += len(data)
                if catch:
                    d.catch_up(size)
        d.catch_up(size, sync=False)
        assert d.hexdigest(size) == hashlib.sha256(path.read_bytes()).hexdigest()
        with pytest.raises(RuntimeError, match="bytes hashed"):
            d.hexdigest(size + 1)
        with pytest.raises(OSError, match="shorter"):
            d.catch_up(size + 1)
        assert not _open_fds_to(path)


def test_abort_drops_queued_hashing_and_leaves_no_thread_descriptor_or_file(tmp_path):
    """Abort while the hasher is busy and more hashing is queued: the queued work is dropped, the
    running one ends, and nothing is left (thread, descriptor, file)."""
    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=20)
    real = w._digest.catch_up
    calls: list = []

    def slow(end, sync=True):
        calls.append(end)
        time.sleep(0.2)
        real(end, sync)

    w._digest.catch_up = slow
    for a in range(0, 120, 20):  # six record batches: a hashing queued after each but the first
        w.add(_chunk(a, 20))
    w.abort()
    assert len(calls) < 5, "abort waited for every queued hashing"
    assert not any(t.is_alive() for t in w._hasher._threads) and not any(t.is_alive() for t in w._pool._threads)
    assert not _open_fds_to(w.tmp) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cpus, jobs, want", [(1, 1, 1), (2, 1, 2), (2, 2, 1), (16, 1, 3), (16, 8, 2), (16, 16, 1),
                                              (4, 0, 3)])
def test_encoder_threads_follow_the_cpus_per_job(monkeypatch, cpus, jobs, want):
    import os

    from fastbuild.builder.writer import encoder_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    assert encoder_threads(jobs) == want


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_encoder_threads_give_way_to_the_thread_that_makes_the_batches(tmp_path):
    import os

    w = BatchFileWriter(tmp_path, 1, SCHEMA, batch_rows=50, encoders=2)
    seen: list = []
    real = w._encode_part

    def encode(rb):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(rb)

    w._encode_part = encode
    for a in range(0, 200, 50):
        w.add(_chunk(a, 50))
    w.finish(_stats(200))
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert len(seen) == 4 and set(seen) == {min(19, mine + 5)}
