"""Genome access: FASTA files decoded straight to uint8 base codes.

This is the only module that reads sequence and the only place where strand is applied:
:meth:`Genome.fetch` returns the codes of a 1-based, inclusive genomic interval in
*transcript orientation* (reverse-complemented on the minus strand). Codes are
A=0, C=1, G=2, T=3 and 4 for anything else (N, IUPAC codes); lowercase (soft-masked) bases
decode like uppercase.

Supported inputs
----------------
* plain FASTA (indexed with pyfaidx; the ``.fai`` goes next to the FASTA, or into the cache
  folder when that folder is not writable or lies inside the installed package -- the embedded
  demo -- since an installed package never writes into its own folder);
* bgzip-compressed FASTA (``bgzip genome.fa``; recommended), read in place by pyfaidx when
  Biopython is installed: indexed (``.fai`` + ``.gzi``), never decompressed;
* any other gzip FASTA (and bgzip without Biopython): decompressed once per machine into the
  cache folder (said in the log), keyed by the sha256 checksum of the gzip file, and shared by
  ``prepare``, ``predict``, ``build`` and every other command and output folder.

The cache folder
----------------
:func:`default_cache_dir`: ``<cache root>/fasta``, where the cache root is
``$FASTBUILD_CACHE_DIR``, else ``$FASTBUILD_CACHE`` (older name), else
``$XDG_CACHE_HOME/fastbuild``, else ``~/.cache/fastbuild`` (numba's compiled kernels live in
``<cache root>/numba``).  It holds one decompressed copy per distinct gzip FASTA (about 3 GB for
a human genome), plus small files: ``.fai``/``.gzi`` indexes and ``.sha256`` checksum notes
(which spare re-reading an unchanged gzip file).  Everything there can be deleted at any time;
it is rebuilt when needed.  Every file is written under a temporary name and renamed into place,
so concurrent runs never see a partial file.

Headers of the form ``NAME:START-END`` (samtools-style region FASTAs) are understood as that
1-based inclusive region of contig ``NAME``; bases of ``NAME`` outside the region(s) read as N.

Bad FASTAs are one-line :class:`~fastbuild.errors.FastbuildError` errors naming the file: missing,
a directory, binary or not UTF-8, no ``>`` header, inconsistent line lengths, duplicate or
overlapping records, truncated or corrupt gzip, and whitespace inside a sequence line (which
would shift every later coordinate by one), found when that part is read.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import fastbuild_kernels as kernels
from fastbuild.errors import FastbuildError
from fastbuild.files import READ_ERRORS, check_input_file, is_gzip, read_error_reason, sha256_file, strip_gzip_suffix
from fastbuild_kernels import cache_root

log = logging.getLogger(__name__)

_REGION_RE = re.compile(r"^(?P<name>.+):(?P<start>[0-9][0-9,]*)-(?P<end>[0-9][0-9,]*)$")
N_CODE = 4
_WHITESPACE_RE = re.compile(r"[ \t\r\v\f]")
_PACKAGE_DIR = Path(__file__).resolve().parent


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Region:
    """One FASTA record placed on a contig: record ``key`` holds bases ``start..end``."""

    key: str
    start: int  # 1-based inclusive
    end: int  # 1-based inclusive


def _is_bgzf(path: Path) -> bool:
    """True when the first gzip member carries the BGZF 'BC' extra subfield."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    return len(head) == 18 and head[3] & 4 and head[12:14] == b"BC"


def _biopython_available() -> bool:
    try:
        import Bio  # noqa: F401
    except ImportError:
        return False
    return True


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _inside_package(path: Path) -> bool:
    """True for files of the installed ``fastbuild`` package (the demo data): never written beside."""
    try:
        return path.resolve().is_relative_to(_PACKAGE_DIR)
    except OSError:
        return False


def _fresh(index: Path, source: Path) -> bool:
    """True when ``index`` exists and is not older than ``source`` (pyfaidx's own test)."""
    try:
        return index.stat().st_mtime >= source.stat().st_mtime
    except OSError:
        return False


def _temporary_name(path: Path) -> Path:
    """A name beside ``path``, unique to this process and call, to write before renaming."""
    return path.with_name(f"{path.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")


def _index_suffixes(bgzf: bool) -> tuple[str, ...]:
    return (".gzi", ".fai") if bgzf else (".fai",)


def default_cache_dir() -> Path:
    """The folder for decompressed gzip FASTAs and FASTA indexes: ``<cache root>/fasta``.

    The cache root is ``$FASTBUILD_CACHE_DIR``, else ``$FASTBUILD_CACHE``, else
    ``$XDG_CACHE_HOME/fastbuild``, else ``~/.cache/fastbuild`` (one definition, shared with
    numba's kernel cache: ``fastbuild_kernels.cache_root``).  Size: one
    decompressed copy per distinct gzip FASTA plus small indexes; bgzip FASTAs need none.

    Raises
    ------
    FastbuildError
        When no variable is set and the home folder is unknown.
    """
    try:
        return cache_root() / "fasta"
    except RuntimeError as exc:
        raise FastbuildError(str(exc)) from None


def _cache_name(path: Path) -> str:
    """A cache file stem unique to the source path (two genomes named alike do not clash)."""
    import hashlib

    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return f"{digest}_{strip_gzip_suffix(path.name)}"


class Genome:
    """Read-only access to a FASTA genome as uint8 base codes.

    Parameters
    ----------
    path : str or Path
        FASTA file: plain, bgzip- or gzip-compressed.
    cache_dir : str or Path, optional
        Where decompressed copies of gzip FASTAs and the indexes that cannot live next to the
        FASTA go.  Defaults to :func:`default_cache_dir` (one folder per user, shared by every
        command and output folder; ``$FASTBUILD_CACHE_DIR`` moves it).

    Raises
    ------
    FastbuildError
        When the file is missing, unreadable, not FASTA, has overlapping records, or no index
        can be written anywhere.
    """

    def __init__(self, path, cache_dir=None):
        self.path = check_input_file(path, "FASTA file")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._fasta = self._open()
        self._regions: dict[str, list[Region]] = {}
        for key in self._fasta.keys():
            name, start, end = self._parse_header(key, len(self._fasta[key]))
            self._regions.setdefault(name, []).append(Region(key, start, end))
        for regions in self._regions.values():
            regions.sort(key=lambda r: r.start)
            for a, b in itertools.pairwise(regions):
                if b.start <= a.end:
                    self._fasta.close()
                    raise FastbuildError(
                        f"FASTA {self.path}: records {a.key!r} and {b.key!r} overlap (both hold bases "
                        f"{b.start}-{min(a.end, b.end)}); keep one record per base"
                    )

    # ------------------------------------------------------------------ opening
    def _open(self):
        import pyfaidx

        source = self.path
        bgzf = False
        if is_gzip(source):
            bgzf = _is_bgzf(source) and _biopython_available()
            if not bgzf:
                source = self._decompressed_copy()
        try:
            return self._indexed(source, bgzf)
        except UnicodeDecodeError:
            raise FastbuildError(
                f"cannot index FASTA {self.path}: not a text FASTA file (bytes that are not UTF-8; "
                "binary, or compressed other than with gzip?)"
            ) from None
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError) as exc:
            raise FastbuildError(f"cannot index FASTA {self.path}: {_first_line(exc)}") from None
        except OSError as exc:
            raise FastbuildError(
                f"cannot read or index FASTA {self.path}: {exc.strerror or exc}; "
                "make its folder writable or pass a writable --cache-dir"
            ) from None

    def _indexed(self, source: Path, bgzf: bool):
        """``pyfaidx.Fasta`` of ``source`` over up-to-date indexes (built first if need be)."""
        import pyfaidx

        paths = self._index_paths(source, bgzf)
        if not all(_fresh(p, source) for p in paths):
            self._build_index(source, paths)
        return pyfaidx.Fasta(str(source), as_raw=True, sequence_always_upper=False, rebuild=False,
                             build_index=False, **self._index_kwargs(paths))

    @staticmethod
    def _index_kwargs(paths) -> dict:
        """pyfaidx's keyword arguments naming the ``.fai`` (last of ``paths``) and ``.gzi`` (bgzip)."""
        kwargs = {"indexname": str(paths[-1])}
        if len(paths) == 2:
            kwargs["gzi_indexname"] = str(paths[0])
        return kwargs

    def _index_paths(self, source: Path, bgzf: bool) -> list[Path]:
        """Where the indexes of ``source`` live: ``[.gzi,] .fai`` beside it, or in the cache folder.

        Beside the FASTA when they are up to date there or its folder is writable -- except for
        FASTAs inside the installed package, whose indexes always go to the cache folder.
        """
        suffixes = _index_suffixes(bgzf)
        if not _inside_package(source):
            beside = [Path(f"{source}{suffix}") for suffix in suffixes]
            if all(_fresh(p, source) for p in beside) or _writable_dir(source.parent):
                return beside
        stem = self._cache_path(_cache_name(source))
        log.info("indexes of FASTA %s go to the cache folder %s", source, self.cache_dir)
        return [Path(f"{stem}{suffix}") for suffix in suffixes]

    @staticmethod
    def _build_index(source: Path, paths: list[Path]) -> None:
        """Index ``source`` under temporary names, then rename: readers never see a partial index."""
        import pyfaidx

        tmps = [_temporary_name(p) for p in paths]
        try:
            pyfaidx.Fasta(str(source), as_raw=True, rebuild=True, **Genome._index_kwargs(tmps)).close()
            for tmp, path in zip(tmps, paths, strict=True):
                os.replace(tmp, path)
        finally:
            for tmp in tmps:
                tmp.unlink(missing_ok=True)

    def _cache_path(self, name: str) -> Path:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FastbuildError(f"cannot create cache folder {self.cache_dir}: {exc.strerror}") from None
        if not _writable_dir(self.cache_dir):
            raise FastbuildError(
                f"cache folder {self.cache_dir} is not writable; pass a writable --cache-dir "
                "or set FASTBUILD_CACHE_DIR"
            )
        return self.cache_dir / name

    def _checksum(self) -> str:
        """sha256 of the gzip file, remembered in the cache while its size, mtime and inode stay."""
        note = self._cache_path(_cache_name(self.path) + ".sha256")
        st = self.path.stat()
        stamp = f"{st.st_size} {st.st_mtime_ns} {st.st_ino}"
        try:
            digest, _, seen = note.read_text().strip().partition(" ")
        except (OSError, UnicodeDecodeError):
            digest, seen = "", ""
        if digest and seen == stamp:
            return digest
        log.info("computing the checksum of %s", self.path)
        try:
            digest = sha256_file(self.path)
        except READ_ERRORS as exc:
            raise FastbuildError(f"cannot read FASTA {self.path}: {read_error_reason(exc)}") from None
        _write_quietly(note, f"{digest} {stamp}\n")
        return digest

    def _decompressed_copy(self) -> Path:
        """The plain copy of a gzip FASTA in the cache folder, made once (atomically) per checksum."""
        target = self._cache_path(f"{self._checksum()[:24]}.fa")
        if target.exists():
            log.info("using decompressed copy %s of %s", target, self.path)
            return target
        log.warning("FASTA %s is gzip-compressed; decompressing once to %s (bgzip it to skip this)",
                    self.path, target)
        tmp = _temporary_name(target)
        try:
            with gzip.open(self.path, "rb") as src, open(tmp, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            if not target.exists():  # another run may have finished first: keep its file (and mtime)
                os.replace(tmp, target)
        except READ_ERRORS as exc:
            raise FastbuildError(f"cannot decompress FASTA {self.path}: {read_error_reason(exc)}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return target

    @staticmethod
    def _parse_header(key: str, length: int):
        match = _REGION_RE.match(key)
        if match:
            start = int(match["start"].replace(",", ""))
            end = int(match["end"].replace(",", ""))
            if end - start + 1 == length and start >= 1:
                return match["name"], start, end
        return key, 1, length

    # ------------------------------------------------------------------ queries
    @property
    def contigs(self) -> dict[str, int]:
        """Contig name -> last base covered by the FASTA (its length for whole contigs)."""
        return {name: regions[-1].end for name, regions in self._regions.items()}

    def covered(self, chrom: str, start: int, end: int) -> bool:
        """True when bases ``start..end`` of ``chrom`` all lie inside one FASTA record."""
        for region in self._regions.get(chrom, ()):
            if region.start <= start and end <= region.end:
                return True
        return False

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> np.ndarray:
        """Codes of ``chrom:start-end`` (1-based, inclusive) in transcript orientation.

        Bases outside the FASTA's records (before 1, past the contig end, between regions)
        read as N (code 4), so flanks for a model's context can be asked for directly.

        Parameters
        ----------
        chrom : str
            Contig name as the FASTA knows it (see :mod:`fastbuild.contigs`).
        start, end : int
            1-based inclusive interval; ``end >= start - 1`` (an empty interval is allowed).
        strand : {'+', '-'}
            ``'-'`` returns the reverse complement.

        Returns
        -------
        numpy.ndarray of uint8, length ``end - start + 1``
        """
        if strand not in ("+", "-"):
            raise FastbuildError(f"unknown strand {strand!r} for {chrom}:{start}-{end} (use '+' or '-')")
        if chrom not in self._regions:
            raise FastbuildError(f"contig {chrom!r} is not in FASTA {self.path}")
        n = end - start + 1
        if n < 0:
            raise FastbuildError(f"interval {chrom}:{start}-{end} has end < start")
        out = np.full(n, N_CODE, dtype=np.uint8)
        for region in self._regions[chrom]:
            lo, hi = max(start, region.start), min(end, region.end)
            if lo > hi:
                continue
            text = self._read(region, lo, hi)
            out[lo - start : hi - start + 1] = kernels.encode(text)
        if strand == "-":
            out = kernels.reverse_complement(out)
        return out

    def _read(self, region: Region, lo: int, hi: int) -> str:
        """Bases ``lo..hi`` of ``region`` as text; whitespace in them is an error (it shifts coordinates)."""
        try:
            text = self._fasta[region.key][lo - region.start : hi - region.start + 1]
        except (*READ_ERRORS, ValueError) as exc:
            raise FastbuildError(f"cannot read FASTA {self.path} ({region.key}:{lo}-{hi}): "
                                 f"{read_error_reason(exc)}") from None
        bad = _WHITESPACE_RE.search(text)
        if bad:
            raise FastbuildError(
                f"FASTA {self.path}: record {region.key!r} has whitespace inside a sequence line "
                f"(base {lo + bad.start()}); remove it, every later coordinate would be off"
            )
        return text

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _write_quietly(path: Path, text: str) -> None:
    """Write a small cache note atomically; a failure only costs recomputing it next time."""
    tmp = _temporary_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot write %s: %s", path, exc)
    finally:
        tmp.unlink(missing_ok=True)
