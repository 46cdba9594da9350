"""``fastbuild validate DIR``: check a built dataset against its own declarations.

Reads one batch file at a time and only the columns each check needs, so validating a large
dataset stays within the memory of one batch's id and label columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from fastbuild.builder.config import BuildConfig
from fastbuild.builder.output import INFO_FILE, MANIFEST_FILE, MASTER, SUCCESS_FILE, require_finished
from fastbuild.builder.schema import PRED_TYPES, SPLICE_TYPES, kmer_columns, make_schema
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file

LABELS = ("splice_type", "pred_type", "y")


@dataclass
class Report:
    """Results of the checks: each a (name, ok, detail) triple."""

    directory: str
    checks: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, bool(ok), detail))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def text(self) -> str:
        lines = [f"validating {self.directory}"]
        for name, ok, detail in self.checks:
            lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}" + (f": {detail}" if detail else ""))
        lines += [f"  [warn] {w}" for w in self.warnings]
        lines.append("dataset is valid" if self.ok else "dataset is NOT valid")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"directory": self.directory, "ok": self.ok, "warnings": self.warnings,
                "checks": [{"name": n, "ok": o, "detail": d} for n, o, d in self.checks]}


def validate_dataset(directory) -> Report:
    """Run every check on a dataset folder; see :class:`Report`."""
    out = Path(directory)
    rep = Report(str(out))
    try:
        marker = require_finished(out)
    except FastbuildError as exc:
        rep.add("finished build", False, str(exc))
        return rep
    info = _read_info(rep, out / INFO_FILE)
    if info is None:
        return rep
    config = BuildConfig.from_dict(info["config"])
    expected = make_schema(config)
    files = sorted((out / MASTER).glob("batch_*.parquet"))
    rep.add("batch files present", len(files) == info["batches"] == marker.get("units"),
            f"{len(files)} in master/, build_info says {info['batches']}, {SUCCESS_FILE} says {marker.get('units')}")
    _check_checksums(rep, out, files, marker)
    leftovers = sorted(p.name for p in out.glob("**/*.tmp"))
    if leftovers:
        rep.warnings.append(f"unfinished temporary files (ignored): {', '.join(leftovers[:5])}")
    scan = _scan_files(files, expected)
    rep.add("one schema in every file, as declared by the configuration", not scan.bad_schema,
            f"differs in {', '.join(scan.bad_schema[:5])}" if scan.bad_schema else f"{len(expected)} columns")
    if scan.unreadable:
        rep.add("every file readable", False, "; ".join(scan.unreadable[:3]))
    present = set(scan.names)
    kmer_missing = [f"{k}-mers" for k in config.kmer_sizes if not set(_kmer_cols(config, k)) <= present]
    rep.add("expected k-mer columns", bool(files) and not kmer_missing,
            ", ".join(kmer_missing) or f"sizes {list(config.kmer_sizes) or 'none'}")
    rep.add("labels complete and consistent", not scan.label_problems, "; ".join(scan.label_problems[:3]))
    _check_manifest(rep, out, scan.genes(), info, marker)
    _check_counts(rep, scan.counts, info)
    return rep


def _read_info(rep: Report, path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text())
        BuildConfig.from_dict(info["config"])
        info["batches"], info["counts"]["pred_type_x_splice_type"], info["genes"]
        return info
    except FileNotFoundError:
        rep.add(f"{INFO_FILE} present", False, f"{path} is missing although {SUCCESS_FILE} says the build finished")
    except (OSError, ValueError, KeyError, TypeError, FastbuildError) as exc:
        rep.add(f"{INFO_FILE} readable", False, f"{path} is corrupt ({type(exc).__name__}: {exc})")
    return None


def _check_checksums(rep: Report, out: Path, files: list[Path], marker: dict) -> None:
    """Published files must be byte-identical to the unit files finalise checksummed."""
    want = marker.get("sha256", {})
    bad = []
    for f in files:
        unit_file = f.name.replace(".parquet", "_trim.parquet")
        if want.get(unit_file) != sha256_file(f):
            bad.append(f.name)
    rep.add(f"files match the checksums in {SUCCESS_FILE}", not bad and len(want) == len(files),
            f"changed since the build: {', '.join(bad[:5])}" if bad else f"{len(files)} files")


@dataclass
class _Scan:
    """What one pass over the batch files found (only id and label columns are read)."""

    bad_schema: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)
    names: list = field(default_factory=list)
    label_problems: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    per_gene: list = field(default_factory=list)

    def genes(self) -> pl.DataFrame:
        if self.per_gene:
            return pl.concat(self.per_gene)
        return pl.DataFrame(schema={"gene_id": pl.Utf8, "rows": pl.UInt32, "pmin": pl.Int64, "pmax": pl.Int64,
                                    "file": pl.Utf8})


def _scan_files(files: list[Path], expected) -> _Scan:
    scan = _Scan()
    roles = expected.metadata[b"fastbuild.roles"]
    for f in files:
        try:
            schema = pq.read_schema(f)
            df = pl.read_parquet(f, columns=["gene_id", "position", *LABELS])
        except Exception as exc:
            scan.unreadable.append(f"{f.name}: {str(exc).splitlines()[0][:120]}")
            continue
        scan.names = scan.names or schema.names
        if not schema.equals(expected, check_metadata=False) or schema.metadata.get(b"fastbuild.roles") != roles:
            scan.bad_schema.append(f.name)
            continue
        nulls = {c: df[c].null_count() for c in LABELS if df[c].null_count()}
        if nulls:
            scan.label_problems.append(f"{f.name}: nulls in {nulls}")
        unknown = df.filter(~pl.col("splice_type").is_in(SPLICE_TYPES) | ~pl.col("pred_type").is_in(PRED_TYPES))
        mismatch = df.filter(pl.col("y") != pl.col("splice_type").replace_strict(
            {s: i for i, s in enumerate(SPLICE_TYPES)}, default=-1, return_dtype=pl.Int8))
        if unknown.height or mismatch.height:
            scan.label_problems.append(
                f"{f.name}: {unknown.height} unknown labels, {mismatch.height} y/splice_type disagreements")
        for p, s, n in df.group_by("pred_type", "splice_type").len().iter_rows():
            scan.counts[(p, s)] = scan.counts.get((p, s), 0) + n
        scan.per_gene.append(df.group_by("gene_id").agg(
            pl.len().alias("rows"), pl.col("position").min().alias("pmin"), pl.col("position").max().alias("pmax"),
        ).with_columns(pl.lit(f.name).alias("file")))
    return scan


def _check_manifest(rep: Report, out: Path, genes: pl.DataFrame, info: dict, marker: dict) -> None:
    man_path = out / MANIFEST_FILE
    if not man_path.is_file():
        if marker.get("manifest", True):
            rep.add(f"{MANIFEST_FILE} present", False, f"{man_path} was written by the build and is missing")
        else:
            rep.warnings.append(f"no {MANIFEST_FILE} (built with --no-manifest): gene spans not checked")
        return
    try:
        man = pl.read_csv(man_path, schema_overrides={"gene_id": pl.Utf8, "chrom": pl.Utf8})
    except Exception as exc:
        rep.add(f"{MANIFEST_FILE} readable", False, f"{man_path}: {str(exc).splitlines()[0][:120]}")
        return
    joined = genes.join(man, on="gene_id", how="left")
    outside = joined.filter(pl.col("start").is_null() | (pl.col("pmin") < pl.col("start"))
                            | (pl.col("pmax") > pl.col("end")))
    rep.add("positions inside their genes", outside.height == 0,
            f"{outside.height} genes with rows outside their span, e.g. {outside['gene_id'].head(3).to_list()}"
            if outside.height else "")
    wrong = joined.filter((pl.col("rows") != pl.col("n_rows")) | (pl.col("file") != pl.col("file_name")))
    missing = man.filter((pl.col("n_rows") > 0) & ~pl.col("gene_id").is_in(genes["gene_id"].implode()))
    ok = wrong.height == 0 and missing.height == 0 and man.height == info["genes"]
    rep.add("manifest agrees with the files", ok,
            f"{man.height} genes" if ok else f"{wrong.height} genes disagree, {missing.height} manifest genes absent "
            f"from files, {man.height} manifest rows vs {info['genes']} genes")


def _check_counts(rep: Report, counts: dict, info: dict) -> None:
    want = info["counts"]["pred_type_x_splice_type"]
    diffs = [f"{p}/{s}: files {counts.get((p, s), 0)} vs build_info {want[p][s]}"
             for p in PRED_TYPES for s in SPLICE_TYPES if counts.get((p, s), 0) != want[p][s]]
    rep.add(f"class counts match {INFO_FILE}", not diffs, "; ".join(diffs[:4]) or
            ", ".join(f"{p} {sum(counts.get((p, s), 0) for s in SPLICE_TYPES):,}" for p in PRED_TYPES))


def _kmer_cols(config: BuildConfig, k: int) -> list[str]:
    return [name for name, _, _ in kmer_columns(BuildConfig(kmer_sizes=(k,), kmer_layout=config.kmer_layout))]
