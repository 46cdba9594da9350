"""Configuration of ``fastbuild variants`` (:class:`VariantsConfig`): every option, declared once.

Light on purpose (no numpy, polars or numba): the parser and its checks import no engine. The
steps that run it are :mod:`fastbuild.variants.job`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastbuild.basemodel.backends import BACKENDS, DEFAULT_BACKEND
from fastbuild.checks import positive, whole
from fastbuild.errors import FastbuildError
from fastbuild.options import RunOptions, check_fields, option, replace_flat
from fastbuild.specs import InputSpec

__all__ = ["REASONS", "VariantsConfig", "parse_label_map"]

INPUTS = "inputs"
OUTPUT = "output"
SCORING = "scoring"
REASONS = ("outside_genes", "near_contig_end", "deletion_too_long", "ref_mismatch", "unknown_contig",
           "symbolic_allele", "breakend_allele", "missing_allele")
"""Why an allele gets no annotation (the summary counts each; ``--reason-tag`` / ``--reasons`` write them)."""


def _distance(name: str, value) -> None:
    whole(name, value, 0, 4999)


def _info_key(name: str, value) -> None:
    if not value or any(c in value for c in " ;=,\t<>\"") or value[0].isdigit():
        raise FastbuildError(f"--{name.replace('_', '-')} {value!r} is not a valid VCF INFO key")


def parse_label_map(items) -> tuple:
    """``["Pathogenic=1", "Benign=0"]`` -> ``(("Pathogenic", 1), ("Benign", 0))`` (``--label-map``)."""
    out = []
    for item in items:
        name, sep, value = str(item).rpartition("=")
        try:
            out.append((name, int(value)))
        except ValueError:
            sep = ""
        if not sep or not name:
            raise FastbuildError(f"--label-map: {item!r} is not VALUE=INTEGER (e.g. Pathogenic=1)")
    return tuple(out)


def _threads(name: str, value) -> None:
    positive(name, value, 1024)


@dataclass(frozen=True)
class VariantsConfig:
    """What to annotate (VCF, genome, annotation, model, -D, -M), where to write it, and how to run it."""

    vcf: str | None = option(None, "input VCF: plain, gzip or bgzip", flags=("-I", "--vcf"), cli={"required": True})
    out: str | None = option(None, "output VCF (the input with the INFO annotation added; .gz: gzip-compressed)",
                             flags=("-O", "--out"), cli={"required": True})
    inputs: InputSpec = option(default_factory=InputSpec, overrides={
        "fasta": {"flags": ("-R", "--fasta"), "group": INPUTS},
        "annotation": {"flags": ("-A", "--gtf", "--annotation"), "group": INPUTS,
                       "help": "annotation: GTF, GFF3, SpliceAI table, or grch37 / grch38 (the tables of the "
                               "installed spliceai package)"},
        "reference": {"group": INPUTS}, "chrom_alias": {"group": INPUTS}, "annotation_format": {"group": INPUTS}})
    model: str = option("spliceai", "'spliceai' (SpliceAI 1.3.1's weights, extra fastbuild-splice[spliceai]) or "
                                    "OpenSpliceAI .pt / SpliceAI .h5 files or a folder of them (averaged)")
    distance: int = option(50, "maximum distance between the variant and gained/lost splice site (SpliceAI -D)",
                           flags=("-D", "--distance"), check=_distance)
    mask: int = option(0, "mask scores of annotated acceptor/donor gain and unannotated acceptor/donor loss "
                          "(SpliceAI -M)", flags=("-M", "--mask"), choices=(0, 1), cli={"type": int})
    info_key: str = option("SpliceAI", "INFO key of the annotation", group=OUTPUT, check=_info_key)
    reason_tag: str | None = option(None, "also write why a record got no annotation under this INFO key",
                                    group=OUTPUT, check=_info_key, cli={"metavar": "KEY"})
    reasons: str | None = option(None, "write a TSV of every allele left unannotated with its reason",
                                 group=OUTPUT, cli={"metavar": "FILE"})
    rows: str | None = option(None, "also write meta-model rows (variant x gene x allele x position within D: "
                                    "ref, alt and delta scores) as a Parquet dataset into this folder",
                              group=OUTPUT, cli={"metavar": "DIR"})
    label_field: str | None = option(None, "INFO field whose value gives each row's label (e.g. CLNSIG), with "
                                           "--label-map", group=OUTPUT, cli={"metavar": "KEY"})
    label_map: tuple = option((), "label of each --label-field value (VALUE=INTEGER; unlisted values: null)",
                              group=OUTPUT, parse=parse_label_map, cli={"nargs": "+", "metavar": "VALUE=N"})
    chunk_records: int = option(1000, "VCF records per work unit", group=SCORING, check=positive)
    threads: int | None = option(None, "threads of the forward pass (default: all cores, shared out among local "
                                       "worker processes)", group=SCORING, check=_threads)
    backend: str = option(DEFAULT_BACKEND, "engine of the forward pass (see fastbuild predict --help)", group=SCORING,
                          choices=BACKENDS)
    work_dir: str | None = option(None, "folder of the plan and the units' outputs (default: OUT.parts; removed "
                                        "once the output is written)", group=SCORING, cli={"metavar": "DIR"})
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        check_fields(self)
        if self.label_map and not self.label_field:
            raise FastbuildError("--label-map needs --label-field")

    def replace(self, **options) -> VariantsConfig:
        """A copy with flat options changed, each routed to the part holding it."""
        return replace_flat(self, options, "variants")

    def identity(self) -> dict:
        """What decides the output (hashed into the plan's key; how the work runs is left out)."""
        return {"distance": self.distance, "mask": self.mask, "info_key": self.info_key,
                "reason_tag": self.reason_tag, "chunk_records": self.chunk_records, "rows": self.rows is not None,
                "label_field": self.label_field, "label_map": [list(p) for p in self.label_map]}
