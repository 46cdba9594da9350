"""Score tracks to import, read per gene: a set of bigWigs, or a table of per-base scores.

Both answer one question, :meth:`values`: the float32 scores of one kind (donor, acceptor,
neither) on one strand over bases ``start..end`` (1-based, inclusive) of a FASTA contig, NaN
where the source has none. Both are checked as they open: contigs against the FASTA (names,
lengths), strands, values inside [0, 1] (a bigWig's own summary, a table's every row), and
something to import at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.errors import FastbuildError
from fastbuild.files import PARQUET_MAGIC, check_input_file, is_gzip, read_parquet
from fastbuild.tracks.bigwig import BigWig
from fastbuild.tracks.contig_sizes import match_contigs
from fastbuild.tracks.strands import STRAND_NAMES, track_file

__all__ = ["KINDS", "BigWigSource", "TableSource", "bigwigs_of_folder", "check_range"]

KINDS = ("donor", "acceptor", "neither")


def check_range(values: np.ndarray, what: str, where) -> None:
    """FastbuildError when a finite or infinite value lies outside [0, 1]; ``where(i)`` places value ``i``."""
    bad = np.flatnonzero((values < 0) | (values > 1))
    if bad.size:
        raise FastbuildError(f"{what}: score {float(values[bad[0]])!r} at {where(int(bad[0]))} is outside [0, 1]; "
                             "import probabilities")


def bigwigs_of_folder(folder) -> dict[str, str]:
    """Role -> path of the bigWigs in a folder written by ``fastbuild tracks --scores``.

    Raises
    ------
    FastbuildError
        The folder is missing or holds strand-collapsed tracks (which mix the strands).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FastbuildError(f"--tracks {folder} is not a folder")
    manifest = folder / "tracks.json"
    if manifest.is_file():
        try:
            strands = json.loads(manifest.read_text()).get("strands")
        except (OSError, ValueError):
            strands = None
        if strands == "collapse":
            raise FastbuildError(f"--tracks {folder} holds strand-collapsed tracks (fastbuild tracks --strands "
                                 "collapse), which mix both strands' scores; export with --strands split to import")
    found = {f"{kind}{s}": str(folder / track_file(kind, s)) for kind in KINDS for s in STRAND_NAMES
             if (folder / track_file(kind, s)).is_file()}
    if not found and any((folder / track_file(kind, None)).is_file() for kind in KINDS):
        raise FastbuildError(f"--tracks {folder} holds only strand-collapsed tracks (donor.bw ...); a store needs "
                             "each strand's scores (donor.plus.bw, donor.minus.bw ...)")
    return found


class BigWigSource:
    """bigWigs by role (``donor+`` ... ``neither-``), opened and checked against the FASTA's contigs."""

    kind = "bigwig"

    def __init__(self, files: dict[str, str], sizes: dict[str, int]):
        for strand in "+-":
            have = [k for k in ("donor", "acceptor") if f"{k}{strand}" in files]
            if len(have) == 1:
                missing = "acceptor" if have == ["donor"] else "donor"
                raise FastbuildError(f"the {have[0]} bigWig of the {strand} strand needs the {missing} bigWig of that "
                                     f"strand too (--{missing}-{STRAND_NAMES[strand]})")
        if not any(f"donor{s}" in files for s in "+-"):
            raise FastbuildError("no donor and acceptor bigWigs to import (a folder without donor.plus.bw ...?)")
        self.files = {role: Path(path) for role, path in files.items()}
        self.tracks: dict[str, BigWig] = {}
        self.contigs: dict[str, dict[str, str]] = {}  # role -> FASTA contig -> track contig
        for role, path in self.files.items():
            self._open(role, path, sizes)

    def _open(self, role: str, path: Path, sizes: dict[str, int]) -> None:
        label = f"{role[:-1]} bigWig ({role[-1]} strand)"
        bw = BigWig(path, label)
        what = f"{label} {path}"
        self.tracks[role] = bw
        if not bw.chroms:
            raise FastbuildError(f"{what} holds no data (an empty track)")
        self.contigs[role] = {fa: tr for tr, fa in match_contigs(bw.chroms, sizes, what).items()}
        summary = bw.summary()
        if summary is not None:
            low, high = summary
            if low < 0 or high > 1:
                raise FastbuildError(f"{what}: scores range from {low!r} to {high!r}, outside [0, 1]; import "
                                     "probabilities")

    def has(self, kind: str, strand: str) -> bool:
        return f"{kind}{strand}" in self.tracks

    def values(self, kind: str, chrom: str, strand: str, start: int, end: int) -> np.ndarray:
        role = f"{kind}{strand}"
        track = self.contigs.get(role, {}).get(chrom)
        if track is None:
            return np.full(end - start + 1, np.nan, dtype=np.float32)
        return self.tracks[role].values(track, start, end)

    def describe(self, kind: str, strand: str) -> str:
        return f"bigWig {self.files[f'{kind}{strand}']}"

    def close(self) -> None:
        for bw in self.tracks.values():
            bw.close()


def _read_table(path: Path) -> pl.DataFrame:
    """A Parquet, TSV or CSV file (gzip allowed) as a DataFrame; one line on any failure."""
    check_input_file(path, "score table")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == PARQUET_MAGIC:
        return read_parquet(path, "score table")
    try:
        import gzip

        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rt") as fh:
            first = fh.readline()
        separator = "\t" if "\t" in first else ","
        return pl.read_csv(path, separator=separator, comment_prefix="#", infer_schema_length=10000,
                           schema_overrides={"chrom": pl.Utf8, "strand": pl.Utf8})
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise FastbuildError(f"cannot read score table {path}: {reason}") from None


class TableSource:
    """A table of per-base scores (chrom, position, strand, donor, acceptor[, neither]), checked, in memory."""

    kind = "table"
    NEEDED = ("chrom", "position", "strand", "donor", "acceptor")

    def __init__(self, path, sizes: dict[str, int]):
        self.path = Path(path)
        self.files = {"table": self.path}
        df = self._checked(_read_table(self.path))
        self._kinds = [k for k in KINDS if k in df.columns]
        mapping = match_contigs({c: None for c in df["chrom"].unique(maintain_order=True).to_list()}, sizes,
                                f"score table {self.path}")
        df = df.with_columns(pl.col("chrom").replace_strict(mapping, return_dtype=pl.Utf8))
        self._check_positions(df, sizes)
        self.parts: dict[tuple[str, str], tuple[np.ndarray, dict]] = {}
        for (chrom, strand), part in df.sort("position").group_by(["chrom", "strand"], maintain_order=True):
            self.parts[(chrom, strand)] = (part["position"].to_numpy(),
                                           {k: part[k].to_numpy().astype(np.float32) for k in self._kinds})

    def _checked(self, df: pl.DataFrame) -> pl.DataFrame:
        what = f"score table {self.path}"
        missing = [c for c in self.NEEDED if c not in df.columns]
        if missing:
            raise FastbuildError(f"{what} lacks column(s) {', '.join(missing)}; it needs chrom, position (1-based), "
                                 "strand (+/-), donor, acceptor and optionally neither")
        if df.height == 0:
            raise FastbuildError(f"{what} has no rows (an empty track)")
        kinds = [k for k in KINDS if k in df.columns]
        for col in ("position", *kinds):
            want = "integer" if col == "position" else "numeric"
            if not (df.schema[col].is_integer() if col == "position" else df.schema[col].is_numeric()):
                raise FastbuildError(f"{what}: column {col} is {df.schema[col]}, not {want}")
        df = df.select(pl.col("chrom").cast(pl.Utf8), pl.col("position").cast(pl.Int64),
                       pl.col("strand").cast(pl.Utf8), *(pl.col(k).cast(pl.Float32) for k in kinds))
        bad = df.filter(~pl.col("strand").is_in(["+", "-"]))
        if bad.height:
            raise FastbuildError(f"{what}: strand {bad['strand'][0]!r} at {bad['chrom'][0]}:{bad['position'][0]} is "
                                 "not '+' or '-' (each row's scores are on the strand it names)")
        nulls = [c for c in df.columns if df[c].null_count()]
        if nulls:
            raise FastbuildError(f"{what}: column {nulls[0]} has empty values; give every row all its scores")
        for k in kinds:
            values = df[k].to_numpy()
            check_range(values, what, lambda i, k=k: f"{df['chrom'][i]}:{df['position'][i]} ({k}, "
                                                     f"{df['strand'][i]} strand)")
        return df

    def _check_positions(self, df: pl.DataFrame, sizes: dict[str, int]) -> None:
        what = f"score table {self.path}"
        length = pl.col("chrom").replace_strict(sizes, return_dtype=pl.Int64)
        bad = df.filter((pl.col("position") < 1) | (pl.col("position") > length))
        if bad.height:
            raise FastbuildError(f"{what}: position {bad['chrom'][0]}:{bad['position'][0]} lies outside the contig "
                                 f"(1..{sizes[bad['chrom'][0]]:,} in the FASTA); positions are 1-based")
        dup = df.filter(pl.struct("chrom", "strand", "position").is_duplicated())
        if dup.height:
            raise FastbuildError(f"{what}: {dup['chrom'][0]}:{dup['position'][0]} ({dup['strand'][0]} strand) is given "
                                 "more than once; give each base of each strand one row")

    def has(self, kind: str, strand: str) -> bool:
        return kind in self._kinds and any(s == strand for _, s in self.parts)

    def values(self, kind: str, chrom: str, strand: str, start: int, end: int) -> np.ndarray:
        out = np.full(end - start + 1, np.nan, dtype=np.float32)
        part = self.parts.get((chrom, strand))
        if part is None or kind not in part[1]:
            return out
        pos, cols = part
        lo, hi = np.searchsorted(pos, [start, end + 1])
        out[pos[lo:hi] - start] = cols[kind][lo:hi]
        return out

    def describe(self, kind: str, strand: str) -> str:
        return f"score table {self.path}"

    def close(self) -> None:
        self.parts = {}
