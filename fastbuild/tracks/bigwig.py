"""bigWig files through pybigtools (the ``tracks`` extra): open and check, read an interval, write.

A thin layer: every failure of the library becomes one :class:`~fastbuild.errors.FastbuildError`
line naming the file. Coordinates here are fastbuild's: **1-based, inclusive** positions; the
conversion to bigWig's 0-based, half-open intervals happens only in this module
(:meth:`BigWig.values` reads ``start - 1 .. end``, :func:`write_bigwig` writes a base at
position ``p`` as ``[p - 1, p)``).

Values are float32 in a bigWig, so float32 scores written here read back bit for bit.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import threading
from pathlib import Path

import numpy as np

from fastbuild.atomic import atomic_path
from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file

__all__ = ["BIGBED_MAGIC", "BIGWIG_MAGIC", "BigWig", "Runs", "header_problem", "is_fatal", "magic_of",
           "quiet_library", "require_pybigtools", "runs_of", "write_bigwig"]

BIGWIG_MAGIC = 0x888FFC26  # the first 4 bytes of a bigWig (little-endian)
BIGBED_MAGIC = 0x8789F2EB
_HEADER = struct.Struct("<IHHQQQHHQQIQ")  # the bigWig header (UCSC's BBI format), 64 bytes
_ZOOM = struct.Struct("<IIQQ")  # one zoom level's header, 24 bytes
_BLOCK = 1 << 16  # intervals handed to the writer as Python tuples at a time
_TREE_HEADER = 48  # bytes of an R-tree index header (also enough for the B+ tree of contigs and the summary)


def require_pybigtools():
    """The pybigtools module, or a one-line error saying how to install it."""
    try:
        import pybigtools
    except ImportError:
        raise FastbuildError("bigWig tracks need pybigtools: pip install 'fastbuild-splice[tracks]'") from None
    return pybigtools


_QUIET = threading.Lock()
_quiet_state = {"depth": 0, "saved": []}


@contextlib.contextmanager
def quiet_library():
    """File descriptors 1 and 2 sent to /dev/null for the block: pybigtools prints its own lines
    (error reports, Rust panics; on standard output or error) before it raises or instead of
    raising, and fastbuild says what went wrong in one line. Re-entrant and safe across threads
    (the first to enter redirects, the last to leave restores)."""
    import sys

    with _QUIET:
        if _quiet_state["depth"] == 0:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            _quiet_state["saved"] = _redirect_to_null((1, 2))
        _quiet_state["depth"] += 1
    try:
        yield
    finally:
        with _QUIET:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                for fd, copy in _quiet_state["saved"]:
                    os.dup2(copy, fd)
                    os.close(copy)
                _quiet_state["saved"] = []


def _redirect_to_null(fds) -> list:
    """(fd, saved copy) of each of ``fds`` now writing to /dev/null (those that exist)."""
    saved = []
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            try:
                copy = os.dup(fd)
            except OSError:  # no such descriptor: nothing to silence
                continue
            os.dup2(null, fd)
            saved.append((fd, copy))
    finally:
        os.close(null)
    return saved


def magic_of(path: Path) -> int | None:
    """The first 4 bytes of ``path`` as a little-endian number (None when shorter)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return int.from_bytes(head, "little") if len(head) == 4 else None


def header_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a whole bigWig judging by its header (None when it can): empty, not a
    bigWig (a bigBed, other magic bytes), cut short, a section it points to past the file's end,
    or no closing signature. The library opens a file cut in its zoom levels or indexes and reads
    the parts still there, so the offsets are checked first."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEADER.size)
        if len(head) < 4:
            return "is empty" if size == 0 else f"is not a bigWig file (too short: {size} bytes)"
        magic = int.from_bytes(head[:4], "little")
        if magic == BIGBED_MAGIC:
            return "is a bigBed file, not a bigWig (tracks hold values: convert it, or give a bigWig)"
        if magic != BIGWIG_MAGIC:
            return "is not a bigWig file (wrong magic bytes)"
        if len(head) < _HEADER.size:
            return f"is truncated ({size} bytes, shorter than a bigWig header)"
        fields = _HEADER.unpack(head)
        zooms = fh.read(_ZOOM.size * fields[2])
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    if len(zooms) < _ZOOM.size * fields[2]:
        return "is truncated (inside its header)"
    _, _, _, chrom_tree, data, index, _, _, auto_sql, summary, _, _ = fields
    ends = [chrom_tree + _TREE_HEADER, data, index + _TREE_HEADER, auto_sql, summary + 40 if summary else 0]
    for level in range(fields[2]):
        _, _, zoom_data, zoom_index = _ZOOM.unpack_from(zooms, level * _ZOOM.size)
        ends += [zoom_data, zoom_index + _TREE_HEADER]
    if max(ends) > size:
        return f"is truncated (it ends at byte {size:,}, its header points to byte {max(ends):,})"
    if tail != head[:4]:
        return "is truncated (its closing bigWig signature is missing)"
    return None


def is_fatal(exc: BaseException) -> bool:
    """True for what must not be turned into a FastbuildError (Ctrl-C, SIGTERM, exit, no memory)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError))


def _reraise_interrupts(exc: BaseException) -> None:
    if is_fatal(exc):
        raise exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


class BigWig:
    """A bigWig opened for reading, checked to be one: a missing, empty, truncated or non-bigWig
    file is one line.

    Attributes
    ----------
    path : pathlib.Path
    chroms : dict
        Contig name -> length, as the file's header gives them (contigs with data only).
    """

    def __init__(self, path, what: str = "bigWig"):
        self.path = check_input_file(path, what)
        self.what = what
        problem = header_problem(self.path)
        if problem:
            raise FastbuildError(f"{what} {self.path} {problem}")
        bt = require_pybigtools()
        try:
            with quiet_library():
                self._reader = bt.open(str(self.path))
            if not self._reader.is_bigwig:
                raise FastbuildError(f"{what} {self.path} is a bigBed, not a bigWig")
            self.chroms = {str(k): int(v) for k, v in self._reader.chroms().items()}
        except FastbuildError:
            raise
        except BaseException as exc:  # pybigtools panics (pyo3's PanicException is no Exception) on some damage
            _reraise_interrupts(exc)
            raise FastbuildError(f"{what} {self.path} is truncated or corrupt ({_reason(exc)})") from None

    def values(self, chrom: str, start: int, end: int) -> np.ndarray:
        """float32 values of bases ``start..end`` (1-based, inclusive) of ``chrom``; NaN where no data.

        A contig the file does not hold reads as all NaN; bases past its end too.
        """
        n = end - start + 1
        if chrom not in self.chroms or n <= 0:
            return np.full(max(n, 0), np.nan, dtype=np.float32)
        try:
            with quiet_library():
                out = self._reader.values(chrom, start - 1, end, oob=float("nan"), fillna=None)
        except BaseException as exc:  # as in __init__: a panic on damaged data
            _reraise_interrupts(exc)
            raise FastbuildError(f"{self.what} {self.path} is truncated or corrupt: reading {chrom}:{start}-{end} "
                                 f"failed ({_reason(exc)})") from None
        return np.asarray(out, dtype=np.float32)

    def summary(self) -> tuple[float, float] | None:
        """(minimum, maximum) of the whole file, from its header's summary (None when it has none)."""
        try:
            info = self._reader.info().get("summary") or {}
            return float(info["min"]), float(info["max"])
        except Exception:
            return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Runs:
    """Runs of equal values of one contig: 0-based half-open ``starts``, ``ends`` and float32 ``values``."""

    __slots__ = ("ends", "starts", "values")

    def __init__(self, starts: np.ndarray, ends: np.ndarray, values: np.ndarray):
        self.starts, self.ends, self.values = starts, ends, values

    def __len__(self) -> int:
        return int(self.starts.size)


def runs_of(positions: np.ndarray, values: np.ndarray) -> Runs:
    """bigWig intervals of one contig from 1-based ``positions`` (ascending, unique) and their values.

    Adjacent bases of equal value become one interval; NaN values are left out (no data).
    """
    positions = np.asarray(positions, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    keep = ~np.isnan(values)
    positions, values = positions[keep], values[keep]
    if positions.size == 0:
        empty = np.zeros(0, np.int64)
        return Runs(empty, empty, np.zeros(0, np.float32))
    # a run breaks where the next base is not adjacent or its value differs (bit for bit)
    bits = values.view(np.uint32)
    brk = np.flatnonzero((np.diff(positions) != 1) | (np.diff(bits) != 0)) + 1
    first = np.concatenate([[0], brk])
    last = np.concatenate([brk, [positions.size]]) - 1
    return Runs(positions[first] - 1, positions[last], values[first])


@contextlib.contextmanager
def _atomic_bigwig(path: Path):
    """:func:`~fastbuild.atomic.atomic_path` with a temporary name ending in ``.bw`` (pybigtools
    chooses the format by the name's ending)."""
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + ".bw")
        try:
            yield named
            os.replace(named, tmp)
        finally:
            named.unlink(missing_ok=True)


class _Entries:
    """The intervals of every contig, in header order, as pybigtools wants them.

    The library swallows an exception raised while it iterates (it writes what came before):
    one met here is kept in ``error`` for :func:`write_bigwig` to raise after the write.
    """

    def __init__(self, path, sizes: dict[str, int], runs):
        self.path, self.sizes, self.runs = path, sizes, runs
        self.error: BaseException | None = None
        self.count = 0

    def _runs(self, chrom: str):
        return self.runs(chrom) if callable(self.runs) else self.runs.get(chrom)

    def __iter__(self):
        try:
            for chrom in self.sizes:
                r = self._runs(chrom)
                if r is None or not len(r):
                    continue
                _check_runs(self.path, self.sizes, chrom, r)
                self.count += len(r)
                for lo in range(0, len(r), _BLOCK):  # Python objects for one block at a time
                    hi = lo + _BLOCK
                    yield from zip(itertools.repeat(chrom), r.starts[lo:hi].tolist(), r.ends[lo:hi].tolist(),
                                   r.values[lo:hi].tolist())
        except (Exception, KeyboardInterrupt) as exc:  # Ctrl-C / SIGTERM too: raised again after the write
            self.error = exc


def _check_runs(path, sizes: dict[str, int], chrom: str, r: Runs) -> None:
    """What pybigtools would only print: intervals past a contig's end or out of order."""
    if int(r.starts[0]) < 0:
        raise FastbuildError(f"cannot write {path}: {chrom}:{int(r.starts[0]) + 1} lies before the contig's start "
                             "(positions are 1-based)")
    if int(r.ends[-1]) > sizes[chrom]:
        raise FastbuildError(f"cannot write {path}: {chrom}:{int(r.ends[-1])} lies past the contig's end "
                             f"({sizes[chrom]} in the FASTA); is it the genome the scores were made on?")
    if (r.starts[1:] < r.ends[:-1]).any():
        raise FastbuildError(f"cannot write {path}: intervals of {chrom} overlap or are out of order")


def write_bigwig(path, sizes: dict[str, int], runs) -> int:
    """Write a bigWig atomically; returns the number of intervals written.

    Parameters
    ----------
    path : str or Path
    sizes : dict
        Contig -> length (the FASTA's): the header, contigs in this order.
    runs : dict or callable
        Contig -> :class:`Runs` (or None), or a function of the contig giving them: called once
        per contig in header order while the file is written, so one contig is in memory at a time.

    Raises
    ------
    FastbuildError
        No value at all (a bigWig cannot be empty), an interval past its contig's end, or a
        failure to write; the file is then not left under its name.
    """
    bt = require_pybigtools()
    path = Path(path)
    unknown = [c for c in (runs if isinstance(runs, dict) else ()) if c not in sizes and len(runs[c])]
    if unknown:
        raise FastbuildError(f"cannot write {path}: contig {unknown[0]!r} is not in the genome FASTA")
    entries = _Entries(path, dict(sizes), runs)
    with _atomic_bigwig(path) as tmp:
        try:
            with quiet_library():
                bt.open(str(tmp), "w").write(dict(sizes), iter(entries))
        except Exception as exc:
            raise FastbuildError(f"cannot write {path}: {_reason(exc)}") from None
        if entries.error is not None:
            raise entries.error
        if entries.count == 0:  # a bigWig cannot be empty: the library writes a file that no reader opens
            raise FastbuildError(f"cannot write {path}: no value to write")
        try:  # the library reports some failures (a full disk) only by printing: read the file back
            BigWig(tmp, "written bigWig").close()
        except FastbuildError:
            raise FastbuildError(f"cannot write {path}: the file written does not read back (disk full?)") from None
    return entries.count
