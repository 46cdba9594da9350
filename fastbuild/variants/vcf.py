"""VCF text in and out: the header, records with their line numbers, and INFO edits that keep each line.

The output of ``fastbuild variants`` is the input VCF line for line, with only the INFO column
of each record changed, so records are kept as text and only the columns the variant rules need
are parsed. Every problem is one line naming the file and, for a record, its line number:
a missing or garbled header, a record with too few columns, a bad position or allele, a
truncated or damaged gzip / bgzip file. (htslib-based readers such as cyvcf2 0.35 report a bad
position as ``error parsing variant with htslib::bcf_read error-code: 0 and ret: -2``, without
the line, and re-serialise every record; see docs/variants.md.)
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file, is_gzip

__all__ = ["COLUMNS", "Record", "allele_kind", "header_info_line", "iter_records", "open_vcf", "read_header",
           "set_info"]

COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
_BASES = re.compile(r"^[ACGTNacgtn]+$")
_INFO_ID = re.compile(r"^##INFO=<ID=([^,>]+)")
READ_PROBLEMS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


@dataclass(frozen=True)
class Record:
    """One VCF record: its text, its line number and the parsed columns the variant rules use."""

    line: str
    lineno: int
    chrom: str
    pos: int
    ref: str
    alts: tuple

    @property
    def fields(self) -> list[str]:
        """The record's tab-separated columns."""
        return self.line.split("\t")


def allele_kind(allele: str) -> str:
    """``"bases"``, ``"missing"`` (``.`` / ``*``), ``"symbolic"`` (``<DEL>``) or ``"breakend"`` (``N[chr2:5[``)."""
    if allele in (".", "*"):
        return "missing"
    if allele.startswith("<") and allele.endswith(">"):
        return "symbolic"
    if "[" in allele or "]" in allele or allele.startswith(".") or allele.endswith("."):
        return "breakend"
    return "bases" if _BASES.match(allele) else "bad"


def open_vcf(path):
    """A text handle on a plain, gzip or bgzip VCF (FastbuildError when missing or unreadable)."""
    path = check_input_file(path, "VCF file")
    try:
        if is_gzip(path):
            return gzip.open(path, "rt", encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise FastbuildError(f"cannot read VCF file {path}: {exc.strerror or exc}") from None


def _read_problem(path, exc: BaseException) -> FastbuildError:
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)):
        why = "the gzip/bgzip stream is truncated or damaged"
    elif isinstance(exc, UnicodeDecodeError):
        why = "not UTF-8 text"
    else:
        why = getattr(exc, "strerror", None) or str(exc)
    return FastbuildError(f"cannot read VCF file {path}: {why}")


def read_header(handle, path) -> tuple[list[str], int]:
    """The header lines (``##`` meta lines and the ``#CHROM`` line, newlines stripped) and their count.

    Raises
    ------
    FastbuildError
        Empty file, no ``##fileformat=VCF`` first line, or no / a garbled ``#CHROM`` line.
    """
    lines = []
    try:
        for raw in handle:
            line = raw.rstrip("\r\n")
            lines.append(line)
            if not line.startswith("##"):
                break
    except READ_PROBLEMS as exc:
        raise _read_problem(path, exc) from None
    if not lines:
        raise FastbuildError(f"VCF file {path} is empty (no header)")
    if not lines[0].startswith("##fileformat=VCF"):
        raise FastbuildError(f"{path}:1: not a VCF header: the first line must be ##fileformat=VCFv4.x, "
                             f"got {lines[0][:60]!r}")
    columns = lines[-1].split("\t")
    if not lines[-1].startswith("#") or tuple(columns[:8]) != COLUMNS:
        raise FastbuildError(f"{path}:{len(lines)}: expected the #CHROM header line with tab-separated columns "
                             f"{' '.join(COLUMNS)}, got {lines[-1][:80]!r}")
    return lines, len(lines)


def parse_record(line: str, lineno: int, path) -> Record:
    """Parse one record line (FastbuildError naming ``path:lineno`` when malformed)."""
    fields = line.split("\t")
    if len(fields) < 8:
        raise FastbuildError(f"{path}:{lineno}: malformed VCF record: {len(fields)} tab-separated columns, "
                             "expected at least 8")
    chrom, pos, ref, alt = fields[0], fields[1], fields[3], fields[4]
    if not chrom or not pos.isdigit() or int(pos) < 1:
        raise FastbuildError(f"{path}:{lineno}: malformed VCF record: position {pos!r} is not a number >= 1")
    if not _BASES.match(ref):
        raise FastbuildError(f"{path}:{lineno}: malformed VCF record: REF {ref[:40]!r} is not bases (ACGTN)")
    alts = tuple(alt.split(","))
    bad = [a for a in alts if allele_kind(a) == "bad"]
    if not alt or bad:
        raise FastbuildError(f"{path}:{lineno}: malformed VCF record: ALT {alt[:40]!r} is not bases, '.', '*', "
                             "a symbolic allele or a breakend")
    return Record(line, lineno, chrom, int(pos), ref, alts)


def iter_records(handle, path, first_lineno: int) -> Iterator[Record]:
    """Records of an open VCF after its header; blank lines are skipped, a ``#`` line in the body is an error."""
    lineno = first_lineno
    try:
        for raw in handle:
            lineno += 1
            line = raw.rstrip("\r\n")
            if not line:
                continue
            if line.startswith("#"):
                raise FastbuildError(f"{path}:{lineno}: header line after the first record")
            yield parse_record(line, lineno, path)
    except READ_PROBLEMS as exc:
        raise _read_problem(path, exc) from None


def header_info_line(key: str, number: str, kind: str, description: str) -> str:
    """``##INFO=<ID=...>`` for a key this command writes."""
    return f'##INFO=<ID={key},Number={number},Type={kind},Description="{description}">'


def with_info_lines(header: list[str], lines: dict[str, str]) -> list[str]:
    """The header with ``lines`` (key -> ``##INFO`` line) replacing any INFO line of the same key, before #CHROM."""
    kept = [h for h in header[:-1] if not (_INFO_ID.match(h) and _INFO_ID.match(h).group(1) in lines)]
    return kept + list(lines.values()) + [header[-1]]


def set_info(line: str, values: dict[str, str | None]) -> str:
    """The record line with INFO keys set (``None``: removed), every other column unchanged."""
    fields = line.split("\t")
    items = [] if fields[7] in ("", ".") else fields[7].split(";")
    items = [i for i in items if i.split("=", 1)[0] not in values]
    items += [f"{k}={v}" for k, v in values.items() if v is not None]
    fields[7] = ";".join(items) if items else "."
    return "\t".join(fields)


def is_bgzip_name(path) -> bool:
    """True for an output name ending in .gz / .bgz (written gzip-compressed)."""
    return Path(path).suffix in (".gz", ".bgz")
