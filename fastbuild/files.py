"""Input files in one place: checksums, gzip detection and readers that fail in one line.

Used by the genome and annotation readers, the reference tables, the gene-id and alias files,
the model loaders and the build's input fingerprints.

Every reader here turns what the libraries raise on a bad file (``OSError``, ``EOFError``,
``zlib.error``, ``UnicodeDecodeError``, Arrow/Parquet errors) into a one-line
:class:`~fastbuild.errors.FastbuildError` that names the file and what is wrong with it
(missing, a directory, truncated, not gzip, not UTF-8, not Parquet, missing column ...).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import zlib
from contextlib import contextmanager
from pathlib import Path

from fastbuild.errors import FastbuildError

GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIXES = (".gz", ".bgz")
PARQUET_MAGIC = b"PAR1"
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)
"""What the standard library raises on a missing, unreadable, truncated or mis-encoded file."""


def sha256_file(path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes (plain gzip or bgzip)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def strip_gzip_suffix(name: str) -> str:
    """``genes.gtf.gz`` -> ``genes.gtf`` (``.gz`` / ``.bgz``); other names unchanged."""
    for suffix in GZIP_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_error_reason(exc: BaseException) -> str:
    """A short, one-line reason for an exception met while reading a file.

    Parameters
    ----------
    exc : BaseException
        One of :data:`READ_ERRORS` (anything else gives its first line).

    Returns
    -------
    str
        E.g. ``'truncated (the compressed stream ends early)'`` or ``'permission denied'``.
    """
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} cannot be decoded)"
    if isinstance(exc, EOFError):
        return "truncated (the compressed stream ends early)"
    if isinstance(exc, zlib.error):
        return f"corrupt gzip data ({exc})"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not valid gzip ({exc})"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_input_file(path, what: str) -> Path:
    """Make sure ``path`` is an existing, readable regular file.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the message (``'FASTA file'``, ``'gene ids file'`` ...).

    Returns
    -------
    Path

    Raises
    ------
    FastbuildError
        ``'<what> not found: <path>'``, or that it is a directory, not a regular file, or not
        readable.
    """
    path = Path(path)
    if not path.exists():
        raise FastbuildError(f"{what} not found: {path}")
    if path.is_dir():
        raise FastbuildError(f"{what} {path} is a directory, not a file")
    if not path.is_file():
        raise FastbuildError(f"{what} {path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise FastbuildError(f"{what} {path} is not readable (permission denied)")
    return path


@contextmanager
def reading(path, what: str):
    """Context manager: read errors raised inside become one-line FastbuildErrors.

    ``with reading(path, 'annotation'):`` turns :data:`READ_ERRORS` into
    ``FastbuildError('cannot read annotation <path>: <reason>')``.
    """
    try:
        yield
    except FastbuildError:
        raise
    except READ_ERRORS as exc:
        raise FastbuildError(f"cannot read {what} {path}: {read_error_reason(exc)}") from None


def open_text(path):
    """Open a text file for reading, transparently decompressing gzip (UTF-8, bad bytes replaced).

    Errors met while reading the returned handle are the caller's to convert (see :func:`reading`).
    """
    path = Path(path)
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_text(path, what: str) -> str:
    """The whole text of a small file (gzip allowed), strictly UTF-8 (a leading BOM is dropped).

    Raises
    ------
    FastbuildError
        When the file is missing, a directory, unreadable, a broken gzip, or not UTF-8 (the
        message gives the line of the first bad byte).
    """
    path = check_input_file(path, what)
    with reading(path, what):
        data = gzip.decompress(path.read_bytes()) if is_gzip(path) else path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FastbuildError(
            f"cannot read {what} {path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8"
        ) from None


def _parquet_shape_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a whole Parquet file judging by its magic bytes, or None."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if head != PARQUET_MAGIC:
        return "is not a Parquet file"
    if size < 12 or tail != PARQUET_MAGIC:
        return "is truncated (no Parquet footer)"
    return None


def read_parquet(path, what: str):
    """Read a Parquet file into a polars DataFrame, page checksums verified where written.

    pyarrow is used rather than polars: it reports damaged files as exceptions (polars can
    panic and print a Rust backtrace) and checks the page CRCs that
    ``write_page_checksum=True`` stores.

    Raises
    ------
    FastbuildError
        ``'<what> <path> is truncated (no Parquet footer)'``, ``'... is not a Parquet file'``,
        ``'... is damaged (...)'`` and the like.
    """
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = check_input_file(path, what)
    with reading(path, what):
        problem = _parquet_shape_problem(path)
        if problem:
            raise FastbuildError(f"{what} {path} {problem}")
        try:
            # ParquetFile rather than pq.read_table: the latter imports pyarrow.dataset (and with it
            # pandas where installed, ~0.17 s) for what is one file
            with pq.ParquetFile(path, page_checksum_verification=True) as pf:
                table = pf.read()
        except (pa.ArrowException, OSError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FastbuildError(f"{what} {path} is damaged ({reason})") from None
    return pl.from_arrow(table)
