"""Where a command's genome and annotation come from, and loading them (shared by build and predict).

Inputs are the embedded demo (no flags), a FASTA with an annotation parsed now, or the
reference tables of ``fastbuild prepare`` (``--reference DIR``, its FASTA recorded there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fastbuild import demo
from fastbuild.annotation import TABLES, Annotation, load_annotation
from fastbuild.basemodel.store import metadata_files
from fastbuild.checks import choice
from fastbuild.contigs import read_alias_file
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file
from fastbuild.genome import Genome
from fastbuild.prepare import attach_genome

ANNOTATION_FORMATS = ("auto", "gtf", "gff3", "spliceai")
FINGERPRINTED_TABLES = ("genes", "transcripts", "splice_sites")
"""The reference tables whose contents decide a build's rows (checksummed into its hash)."""


@dataclass(frozen=True)
class InputSpec:
    """Genome and annotation options as given (``--fasta``, ``--gtf``, ``--reference``, ...)."""

    fasta: str | None = None
    annotation: str | None = None
    reference: str | None = None
    chrom_alias: str | None = None
    annotation_format: str = "auto"

    def __post_init__(self):
        choice("annotation_format", self.annotation_format, ANNOTATION_FORMATS)
        if (self.fasta is None) != (self.annotation is None) and self.reference is None:
            raise FastbuildError("give --fasta and --gtf together (or --reference DIR from fastbuild prepare)")

    @property
    def is_demo(self) -> bool:
        """No genome or annotation given: the embedded demo."""
        return self.fasta is None and self.annotation is None and self.reference is None


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
        info = Path(spec.reference) / "prepare_info.json"
        if not info.is_file():
            raise FastbuildError(
                f"{spec.reference} is not a fastbuild prepare output (no prepare_info.json); "
                "run fastbuild prepare first")
        if fasta is None:
            fasta = json.loads(info.read_text())["fasta"]
    return Inputs(str(fasta), spec.annotation, spec.reference, scores)


def load_reference(inputs: Inputs, spec: InputSpec, genome: Genome) -> Annotation:
    """Reference tables: from a prepared folder, or parsed now and fitted to the genome."""
    if inputs.reference is not None:
        tables = {}
        for name in TABLES:
            path = Path(inputs.reference) / f"{name}.parquet"
            if not path.is_file():
                raise FastbuildError(f"{path} is missing; rerun fastbuild prepare")
            tables[name] = pl.read_parquet(path)
        return Annotation(**tables)
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
