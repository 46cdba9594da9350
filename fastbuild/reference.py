"""Where a command's genome and annotation come from, and loading them (shared by build and predict).

Inputs are the embedded demo (no flags), a FASTA with an annotation parsed now, or the
reference tables of ``fastbuild prepare`` (``--reference DIR``, its FASTA recorded there).

Every reference table is read through :func:`read_reference_table`: a truncated, damaged or
non-Parquet file, a missing column, a column of the wrong type, nulls where values are needed,
an empty gene table or unknown strand / site-type values are one-line errors naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fastbuild import demo
from fastbuild.annotation import NULLABLE_COLUMNS, TABLE_SCHEMAS, TABLES, Annotation, load_annotation
from fastbuild.basemodel.store import metadata_files
from fastbuild.contigs import read_alias_file
from fastbuild.errors import FastbuildError
from fastbuild.files import read_parquet, read_text, sha256_file
from fastbuild.genome import Genome
from fastbuild.prepare import attach_genome
from fastbuild.specs import ANNOTATION_FORMATS, InputSpec  # noqa: F401 - re-exported: where they were before

FINGERPRINTED_TABLES = ("genes", "transcripts", "splice_sites")
"""The reference tables whose contents decide a build's rows (checksummed into its hash)."""


@dataclass(frozen=True)
class Inputs:
    """Resolved input paths of a command."""

    fasta: str
    annotation: str | None
    reference: str | None
    scores: str | None
    demo: bool = False


def resolve_inputs(spec: InputSpec, scores: str | None = None, model: str | None = None) -> Inputs:
    """Fill in defaults: no genome/annotation flags at all means the embedded demo.

    The demo brings its own score store unless a model is named (which then scores the genes).
    """
    if spec.is_demo:
        scores = scores or (str(demo.demo_scores()) if model is None else None)
        return Inputs(str(demo.demo_fasta()), str(demo.demo_annotation()), None, scores, demo=True)
    fasta = spec.fasta
    if spec.reference is not None:
        recorded = prepared_fasta(spec.reference)
        fasta = recorded if fasta is None else fasta
    return Inputs(str(fasta), spec.annotation, spec.reference, scores)


def prepared_fasta(reference) -> str:
    """The FASTA that ``fastbuild prepare`` recorded in ``reference/prepare_info.json``.

    Raises
    ------
    FastbuildError
        When the folder is missing or not a (finished) prepare output, or its
        ``prepare_info.json`` is not valid JSON or records no FASTA.
    """
    ref = Path(reference)
    if not ref.exists():
        raise FastbuildError(f"reference folder not found: {ref}")
    if not ref.is_dir():
        raise FastbuildError(f"--reference {ref} is a file; give the folder written by fastbuild prepare")
    info = ref / "prepare_info.json"
    if not info.exists():
        raise FastbuildError(
            f"{ref} is not a fastbuild prepare output (no prepare_info.json); run fastbuild prepare first")
    try:
        record = json.loads(read_text(info, "reference info"))
    except json.JSONDecodeError as exc:
        raise FastbuildError(f"{info} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                             "rerun fastbuild prepare") from None
    fasta = record.get("fasta") if isinstance(record, dict) else None
    if not isinstance(fasta, str) or not fasta:
        raise FastbuildError(f"{info} records no FASTA path; rerun fastbuild prepare or pass --fasta")
    return fasta


_ALLOWED_VALUES = {"strand": ("+", "-"), "site_type": ("donor", "acceptor")}


def read_reference_table(reference, name: str) -> pl.DataFrame:
    """Read and check one reference table (``<reference>/<name>.parquet``) of fastbuild prepare.

    Columns are those of :data:`fastbuild.annotation.TABLE_SCHEMAS` (integer widths are
    cast, extra columns kept); the gene table must have rows.

    Raises
    ------
    FastbuildError
        Missing, truncated, damaged or non-Parquet file, missing column, column of another
        kind, null values, unknown strand or site type, or no genes: one line naming the file.
    """
    path = Path(reference) / f"{name}.parquet"
    if not path.exists():
        raise FastbuildError(f"reference table {path} is missing; rerun fastbuild prepare")
    df = read_parquet(path, "reference table")
    schema = TABLE_SCHEMAS[name]
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise FastbuildError(f"reference table {path} lacks column(s) {', '.join(missing)}; rerun fastbuild prepare")
    casts = {}
    for col, want in schema.items():
        have = df.schema[col]
        same_kind = (have.is_integer() and want.is_integer()) or (have.is_float() and want.is_float())
        if have != want and not same_kind and have != pl.Null:
            raise FastbuildError(f"reference table {path}: column {col} is {have}, expected {want}")
        casts[col] = want
    df = df.with_columns(pl.col(c).cast(t) for c, t in casts.items())
    _check_values(df, path, schema)
    if name == "genes" and df.height == 0:
        raise FastbuildError(f"reference table {path} has no genes; rerun fastbuild prepare with a usable annotation")
    return df


def _check_values(df: pl.DataFrame, path: Path, schema: dict) -> None:
    """Nulls, unknown strands / site types and start > end in a reference table are errors."""
    for col in schema:
        nulls = df[col].null_count()
        if nulls and col not in NULLABLE_COLUMNS:
            raise FastbuildError(f"reference table {path}: column {col} has {nulls} null values")
        if col in _ALLOWED_VALUES:
            bad = df.filter(~pl.col(col).is_in(_ALLOWED_VALUES[col]))[col]
            if bad.len():
                raise FastbuildError(f"reference table {path}: column {col} holds {bad[0]!r} "
                                     f"(expected {' or '.join(_ALLOWED_VALUES[col])})")
    if "start" in schema and "end" in schema:
        bad = df.filter(pl.col("start") > pl.col("end"))
        if bad.height:
            raise FastbuildError(f"reference table {path}: {bad.height} rows have start > end "
                                 f"(first: {bad['start'][0]} > {bad['end'][0]})")


def load_reference(inputs: Inputs, spec: InputSpec, genome: Genome) -> Annotation:
    """Reference tables: from a prepared folder, or parsed now and fitted to the genome."""
    if inputs.reference is not None:
        return Annotation(**{name: read_reference_table(inputs.reference, name) for name in TABLES})
    aliases = read_alias_file(spec.chrom_alias) if spec.chrom_alias else None
    ann = load_annotation(inputs.annotation, spec.annotation_format)
    ann, skipped = attach_genome(ann, genome, aliases)
    ann.summary.update(skipped)
    return ann


def fingerprints(inputs: Inputs) -> dict:
    """sha256 of every input file (score stores: their metadata and index)."""
    out = {"fasta": sha256_file(inputs.fasta)}
    if inputs.annotation:
        out["annotation"] = sha256_file(inputs.annotation)
    if inputs.reference:
        out["reference"] = {n: sha256_file(Path(inputs.reference) / f"{n}.parquet") for n in FINGERPRINTED_TABLES}
    if inputs.scores and Path(inputs.scores).is_dir():
        out["scores"] = {p.name: sha256_file(p) for p in metadata_files(inputs.scores)}
    return out
