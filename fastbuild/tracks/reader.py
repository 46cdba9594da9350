"""External tracks (bigWig, bedGraph) opened, checked, and read per contig interval.

A track is a per-base signal over a genome: conservation (phyloP, phastCons), accessibility,
coverage. :func:`open_track` recognises the format from the file's first bytes (a bigWig by its
signature; anything else is read as bedGraph text, plain or gzip), checks it, and returns a
:class:`Track` whose :meth:`Track.read` gives the values of a contig interval as float32, NaN
where the track has no data (uncovered bases and bases past the contig's end).

* **bigWig** is read with pybigtools (the ``tracks`` extra), which reads only the blocks that
  overlap the interval asked for: memory follows the interval, not the file. The file's header
  is checked first (signature, the offsets it declares inside the file, the signature the format
  repeats at the end, so a truncated copy is caught before any read), then its contig list and
  its summary (a track covering no base is refused).
* **bedGraph** (``chrom start end value``, 0-based half-open, tab- or space-separated,
  ``track``/``browser``/``#`` header lines allowed) must be sorted by start within each contig,
  each contig's lines together, intervals not overlapping. It is loaded per contig into an
  interval index (three numpy arrays); only the contigs asked for are kept, so memory follows
  the track, not the dataset. Convert large tracks to bigWig (``bedGraphToBigWig``).

Every problem is one :class:`~fastbuild.errors.FastbuildError` naming the track and the file:
missing or unreadable file, not a bigWig or bedGraph, truncated or corrupt, no data, a line that
is not ``chrom start end value``, unsorted or overlapping intervals, infinite values, contigs
that match none of the genome's (:func:`match_contigs`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from fastbuild.contigs import reconcile
from fastbuild.errors import FastbuildError
from fastbuild.files import READ_ERRORS, check_input_file, is_gzip, read_error_reason
from fastbuild.tracks.bigwig import BIGBED_MAGIC, BIGWIG_MAGIC, header_problem, is_fatal, magic_of, quiet_library

__all__ = ["BIGWIG_MAGIC", "BedGraphTrack", "BigWigTrack", "Track", "match_contigs", "open_track"]

EXTRA_HINT = "install the tracks extra: pip install 'fastbuild-splice[tracks]'"


class Track:
    """A track opened for reading (see :func:`open_track`).

    Attributes
    ----------
    name, path : str
        The track's name (its column in the dataset) and its file.
    kind : str
        ``'bigWig'`` or ``'bedGraph'``.
    """

    kind = ""

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, Path(path)

    @property
    def label(self) -> str:
        """``track NAME (PATH)``: how messages name the track."""
        return f"track {self.name} ({self.path})"

    def error(self, what: str) -> FastbuildError:
        return FastbuildError(f"{self.label}: {what}")

    def contigs(self) -> dict[str, int | None]:
        """Contig -> length (None where the format declares none, as in bedGraph)."""
        raise NotImplementedError

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Values of ``chrom`` over 0-based half-open ``[start, end)`` as float32 (NaN: no data).

        ``chrom`` is the track's own contig name; bases before 0 or past the contig's end are NaN.
        """
        out = np.full(max(end - start, 0), np.nan, np.float32)
        lo, hi = max(start, 0), min(end, self._length(chrom))
        if hi > lo:
            self._fill(chrom, lo, hi, out[lo - start:hi - start])
        if out.size and bool(np.isinf(out).any()):
            raise self.error(f"infinite value in {chrom}:{start + 1}-{end}; a track holds finite numbers "
                             "(or no data)")
        return out

    def _length(self, chrom: str) -> int:
        raise NotImplementedError

    def _fill(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------- bigWig
class BigWigTrack(Track):
    """A bigWig track, read with pybigtools (only the blocks overlapping each interval)."""

    kind = "bigWig"

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        try:
            import pybigtools
        except ImportError:
            raise self.error(f"reading bigWig needs pybigtools; {EXTRA_HINT}") from None
        try:
            with quiet_library():
                self._bw = pybigtools.open(str(self.path))
                self._chroms = dict(self._bw.chroms())
                info = self._bw.info()
        except BaseException as exc:
            if is_fatal(exc):
                raise
            raise self.error(f"is not a readable bigWig (corrupt: {_first_line(exc)})") from None
        if not self._chroms or not info.get("summary", {}).get("basesCovered", 1):
            self.close()
            raise self.error("is empty (the bigWig covers no base)")

    def contigs(self) -> dict[str, int | None]:
        return dict(self._chroms)

    def _length(self, chrom: str) -> int:
        return self._chroms.get(chrom, 0)

    def _fill(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        try:
            with quiet_library():
                values = self._bw.values(chrom, start, end, fillna=None)
        except BaseException as exc:
            if is_fatal(exc):
                raise
            raise self.error(f"corrupt bigWig: cannot read {chrom}:{start + 1}-{end} ({_first_line(exc)})") from None
        if values.shape != out.shape:
            raise self.error(f"corrupt bigWig: {values.size} values read for {chrom}:{start + 1}-{end}")
        out[:] = values

    def close(self) -> None:
        bw = getattr(self, "_bw", None)
        if bw is not None:
            self._bw = None
            try:
                bw.close()
            except Exception:  # closing a reader that failed half-way
                pass


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's text, without the Rust reader's ``unwrap`` wording."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.replace("called `Result::unwrap()` on an `Err` value: ", "")


# ---------------------------------------------------------------------------------------------- bedGraph
_HEADER_WORDS = ("track", "browser", "#")


class BedGraphTrack(Track):
    """A bedGraph track (plain or gzip), loaded per contig into an interval index.

    Parameters
    ----------
    keep : callable, optional
        ``keep(contig) -> bool``: the track contigs to hold in memory (default: all). Every line
        is checked either way.
    """

    kind = "bedGraph"

    def __init__(self, name: str, path: Path, keep=None):
        super().__init__(name, path)
        chrom, start, end, value = self._parse()
        self._check(chrom, start, end, value)
        bounds = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
        firsts = np.concatenate([[0], bounds])
        lasts = np.concatenate([bounds, [chrom.size]])
        self._lengths = {str(chrom[a]): int(end[b - 1]) for a, b in zip(firsts, lasts, strict=True)}
        self._index = {str(chrom[a]): (start[a:b].copy(), end[a:b].copy(), value[a:b].copy())
                       for a, b in zip(firsts, lasts, strict=True) if keep is None or keep(str(chrom[a]))}

    def _parse(self):
        import polars as pl

        skip, sep = self._layout()
        try:
            source = gzip.decompress(self.path.read_bytes()) if is_gzip(self.path) else self.path
        except READ_ERRORS as exc:
            raise self.error(f"cannot be read: {read_error_reason(exc)}") from None
        try:
            df = pl.read_csv(source, has_header=False, separator=sep, skip_lines=skip, comment_prefix="#",
                             new_columns=["chrom", "start", "end", "value"],
                             schema_overrides={"chrom": pl.Utf8, "start": pl.Int64, "end": pl.Int64,
                                               "value": pl.Float64})
        except pl.exceptions.NoDataError:
            raise self.error("is empty (no chrom start end value line)") from None
        except Exception as exc:  # polars' parse errors: one line naming the file
            raise self.error("is neither a bigWig nor a bedGraph of 'chrom start end value' lines "
                             f"({_first_line(exc).split('. ')[0][:160]})") from None
        if df.width != 4:
            raise self.error(f"is not a bedGraph: {df.width} columns where 4 are expected (chrom start end value)")
        if df.height == 0:
            raise self.error("is empty (no chrom start end value line)")
        missing = df.select(pl.any_horizontal(pl.all().is_null())).to_series()
        if missing.any():
            raise self.error(f"data line {missing.arg_max() + 1} is not 'chrom start end value' (a field is "
                             "missing or empty)")
        return (df["chrom"].to_numpy(), df["start"].to_numpy(), df["end"].to_numpy(),
                df["value"].to_numpy().astype(np.float32))

    def _layout(self) -> tuple[int, str]:
        """Header lines to skip and the field separator (tab, else a space) of the first data line."""
        from fastbuild.files import open_text

        try:
            with open_text(self.path) as fh:
                for skip, line in enumerate(fh):
                    if line.strip() and not line.lstrip().startswith(_HEADER_WORDS):
                        fields = line.split()
                        if len(fields) != 4:
                            raise self.error(f"is neither a bigWig nor a bedGraph: its first data line has "
                                             f"{len(fields)} fields where 4 are expected (chrom start end value)")
                        return skip, "\t" if "\t" in line else " "
        except READ_ERRORS as exc:
            raise self.error(f"cannot be read: {read_error_reason(exc)}") from None
        raise self.error("is empty (no chrom start end value line)")

    def _check(self, chrom, start, end, value) -> None:
        bad = np.flatnonzero((start < 0) | (end <= start))
        if bad.size:
            i = int(bad[0])
            raise self.error(f"data line {i + 1}: interval {start[i]}-{end[i]} is empty or negative "
                             "(bedGraph is 0-based, half-open: start < end)")
        if bool(np.isinf(value).any()):
            raise self.error(f"data line {int(np.flatnonzero(np.isinf(value))[0]) + 1}: infinite value")
        change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
        runs = chrom[np.concatenate([[0], change])]
        if len(set(runs.tolist())) != runs.size:
            seen, first_again = set(), None
            for name in runs.tolist():
                if name in seen:
                    first_again = name
                    break
                seen.add(name)
            raise self.error(f"contig {first_again} appears in two separate blocks; sort the file "
                             "(sort -k1,1 -k2,2n)")
        same = chrom[1:] == chrom[:-1]
        overlap = np.flatnonzero(same & (start[1:] < end[:-1]))
        if overlap.size:
            i = int(overlap[0]) + 1
            what = "is not sorted by start" if start[i] < start[i - 1] else "has overlapping intervals"
            raise self.error(f"{what} (data line {i + 1}: {chrom[i]} {start[i]}-{end[i]} after "
                             f"{start[i - 1]}-{end[i - 1]}); sort it (sort -k1,1 -k2,2n) and merge overlaps")

    def contigs(self) -> dict[str, int | None]:
        return dict.fromkeys(self._lengths)

    def _length(self, chrom: str) -> int:
        return self._lengths.get(chrom, 0)

    def _fill(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        if chrom not in self._index:
            return
        starts, ends, values = self._index[chrom]
        i0 = int(np.searchsorted(ends, start, side="right"))
        i1 = int(np.searchsorted(starts, end, side="left"))
        if i1 <= i0:
            return
        a = np.maximum(starts[i0:i1], start) - start
        lengths = np.minimum(ends[i0:i1], end) - start - a
        total = int(lengths.sum())
        where = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(a, lengths)
        out[where] = np.repeat(values[i0:i1], lengths)


# ---------------------------------------------------------------------------------------------- opening
def open_track(name: str, path, keep=None) -> Track:
    """Open and check the track file ``path`` (bigWig or bedGraph) as track ``name``.

    Parameters
    ----------
    name : str
        The track's name (its column in the dataset).
    path : str or Path
    keep : callable, optional
        bedGraph only: ``keep(contig) -> bool``, the track contigs to hold in memory (default all).

    Raises
    ------
    FastbuildError
        One line naming the track and the file: missing, empty, truncated, corrupt, not a
        bigWig nor a bedGraph, unsorted or overlapping intervals.
    """
    path = check_input_file(path, f"track {name} file")
    size = path.stat().st_size
    if size == 0:
        raise FastbuildError(f"track {name} ({path}): is empty (0 bytes)")
    if magic_of(path) in (BIGWIG_MAGIC, BIGBED_MAGIC):
        problem = header_problem(path)
        if problem:
            raise FastbuildError(f"track {name} ({path}): {problem}")
        return BigWigTrack(name, path)
    if not is_gzip(path) and b"\0" in _sample(path):
        raise FastbuildError(f"track {name} ({path}): is neither a bigWig nor a bedGraph (binary data)")
    return BedGraphTrack(name, path, keep)


def _sample(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def match_contigs(track: Track, genome_contigs: dict[str, int], needed, aliases: dict | None = None) -> dict:
    """Genome contig -> the track's name for it, for the contigs in ``needed``.

    Names match as for the annotation and the FASTA (:func:`fastbuild.contigs.reconcile`:
    equal, through ``aliases``, or ``chr1`` = ``1``).

    Parameters
    ----------
    track : Track
    genome_contigs : dict
        Genome contig -> last base the FASTA covers.
    needed : iterable of str
        The genome contigs the build reads (its genes' contigs).
    aliases : dict, optional
        Contig aliases (``--chrom-alias``).

    Returns
    -------
    dict
        Genome contig -> track contig for every needed contig the track has; needed contigs the
        track lacks are absent (their values are null).

    Raises
    ------
    FastbuildError
        When no needed contig is in the track, or a bigWig declares a matched contig shorter
        than the genome's sequence of it (another assembly).
    """
    needed = sorted(set(needed))
    tracked = track.contigs()
    try:
        mapping = reconcile(needed, list(tracked), aliases).mapping if needed else {}
    except FastbuildError:
        mapping = {}
    if needed and not mapping:
        shown = ", ".join(list(tracked)[:6]) + (f" ... ({len(tracked)} in all)" if len(tracked) > 6 else "")
        raise track.error(f"its contigs ({shown}) match none of the genome's contigs the genes lie on "
                          f"({', '.join(needed[:6])}); the track is of another genome or names contigs "
                          "otherwise (--chrom-alias FILE maps names)")
    for g, t in mapping.items():
        length = tracked.get(t)
        if length is not None and length < genome_contigs.get(g, 0):
            raise track.error(f"contig {t} is {length:,} bp long in the track but the genome's {g} reaches "
                              f"base {genome_contigs[g]:,}: the track is of another assembly")
    return mapping
