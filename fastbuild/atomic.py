"""Atomic file output: write under a temporary name, fsync, then rename.

A reader never sees a half-written file under its final name: an interrupted write leaves at
most a ``*.tmp`` file, which the next run removes or overwrites.
"""

from __future__ import annotations

import errno
import os
import socket
from contextlib import contextmanager
from pathlib import Path

from fastbuild.errors import FastbuildError

TMP_SUFFIX = ".tmp"


def tmp_path(path) -> Path:
    """The temporary name under which this process writes ``path`` (``NAME.<host>.<pid>.tmp``).

    A name of its own per process (and host, for folders shared by cluster nodes), so two writers
    of one file (two runs sharing a score store, a unit retried while its first worker still
    writes) never write into each other's temporary file; the last rename wins, whole.
    """
    path = Path(path)
    return path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}{TMP_SUFFIX}")


def fsync_dir(path) -> None:
    """Flush a directory entry (the rename) to disk where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def io_error(path, exc: OSError) -> FastbuildError:
    """A one-line FastbuildError for an OSError met while writing ``path``."""
    if exc.errno == errno.ENOSPC:
        what = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "permission denied"
    else:
        what = exc.strerror or str(exc)
    return FastbuildError(f"cannot write {path}: {what}")


@contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path; renamed to ``path`` on success.

    On any exception the temporary file is removed and OSErrors become FastbuildError.
    """
    path = Path(path)
    tmp = tmp_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        _remove_quietly(tmp)
        raise io_error(path, exc) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_parquet(table, path, **kwargs) -> None:
    """Write a polars DataFrame or Arrow table to ``path`` atomically (zstd)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = table.to_arrow()
    kwargs.setdefault("compression", "zstd")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **kwargs)


def _remove_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def ensure_dir(path) -> Path:
    """Create ``path`` (and parents) or raise a one-line FastbuildError."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io_error(path, exc) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise FastbuildError(f"cannot write into {path}: permission denied")
    return path
