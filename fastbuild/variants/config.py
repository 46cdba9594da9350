"""Configuration of ``fastbuild variants`` (:class:`VariantsConfig`): every option, declared once.

Light on purpose (no numpy, polars or numba): the parser and its checks import no engine. The
steps that run it are :mod:`fastbuild.variants.job`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from fastbuild.basemodel.backends import BACKENDS, DEFAULT_BACKEND
from fastbuild.builder.config import MAX_CONTEXT, MAX_WIDE_K, BuildConfig, parse_kmer_sizes
from fastbuild.checks import positive, whole
from fastbuild.errors import FastbuildError
from fastbuild.options import RunOptions, check_fields, option, replace_flat
from fastbuild.specs import InputSpec

__all__ = ["REASONS", "ROWS_CONTEXT_FLANK", "ROWS_KMER_SIZES", "VariantsConfig", "parse_label_map"]

INPUTS = "inputs"
OUTPUT = "output"
SCORING = "scoring"
REASONS = ("outside_genes", "near_contig_end", "deletion_too_long", "ref_mismatch", "unknown_contig",
           "symbolic_allele", "breakend_allele", "missing_allele")
"""Why an allele gets no annotation (the summary counts each; ``--reason-tag`` / ``--reasons`` write them)."""
_BUILD_DEFAULTS = {f.name: f.default for f in fields(BuildConfig)}
#: Defaults of --rows-kmer-sizes and --rows-context-flank: the build's --kmer-sizes and --context-flank.
ROWS_KMER_SIZES: tuple = _BUILD_DEFAULTS["kmer_sizes"]
ROWS_CONTEXT_FLANK: tuple = _BUILD_DEFAULTS["context_flank"]


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


def _rows_kmer_sizes(name: str, value) -> None:
    if not isinstance(value, (tuple, list)):
        raise FastbuildError(f"--rows-kmer-sizes needs whole numbers, got {value!r}")
    for k in value:
        if not 1 <= whole(name, k, maximum=None) <= MAX_WIDE_K:
            raise FastbuildError(f"--rows-kmer-sizes: {k} is out of range; use 1..{MAX_WIDE_K} (one column per "
                                 "k-mer and allele), or 0 for none")
        if list(value).count(k) > 1:
            raise FastbuildError(f"--rows-kmer-sizes names {k} twice; give each size once")


def _rows_context_flank(name: str, value) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise FastbuildError(f"--rows-context-flank needs two whole numbers (UP DOWN), got {value!r}")
    up, down = (whole(name, v, 0) for v in value)
    if up + down > MAX_CONTEXT:
        raise FastbuildError(f"--rows-context-flank UP + DOWN must be <= {MAX_CONTEXT} (counts of the UP + DOWN + 1 "
                             f"nt window are uint16), got {up} {down}")


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
                                    "ref, alt and delta scores, score context and k-mers of both alleles) as a "
                                    "Parquet dataset into this folder",
                              group=OUTPUT, cli={"metavar": "DIR"})
    label_field: str | None = option(None, "INFO field whose value gives each row's label (e.g. CLNSIG), with "
                                           "--label-map", group=OUTPUT, cli={"metavar": "KEY"})
    label_map: tuple = option((), "label of each --label-field value (VALUE=INTEGER; unlisted values: null)",
                              group=OUTPUT, parse=parse_label_map, cli={"nargs": "+", "metavar": "VALUE=N"})
    rows_kmer_sizes: tuple = option(ROWS_KMER_SIZES, "--rows: k-mer sizes counted on the reference and the "
                                                     "alternative sequence, one column per k-mer (1..6); 0 for none",
                                    group=OUTPUT, parse=parse_kmer_sizes, check=_rows_kmer_sizes, cli={"nargs": "+"})
    rows_context_flank: tuple = option(ROWS_CONTEXT_FLANK, "--rows: k-mer/composition window, nt upstream and "
                                                           "downstream of each row's position (transcript orientation)",
                                       group=OUTPUT, parse=tuple, check=_rows_context_flank,
                                       cli={"nargs": 2, "type": int, "metavar": ("UP", "DOWN")})
    chunk_records: int = option(1000, "VCF records per work unit", group=SCORING, check=positive)
    threads: int | None = option(None, "threads of the forward pass (default: all cores, shared out among local "
                                       "worker processes)", group=SCORING, check=_threads)
    backend: str = option(DEFAULT_BACKEND, "engine of the forward pass (see fastbuild predict --help)", group=SCORING,
                          choices=BACKENDS)
    work_dir: str | None = option(None, "folder of the plan and the units' outputs (default: OUT.parts; removed "
                                        "once the output is written)", group=SCORING, cli={"metavar": "DIR"})
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        for name in ("rows_kmer_sizes", "rows_context_flank"):  # lists from Python callers: hashable tuples
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
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
                "label_field": self.label_field, "label_map": [list(p) for p in self.label_map],
                **({"rows_kmer_sizes": list(self.rows_kmer_sizes), "rows_context_flank": list(self.rows_context_flank)}
                   if self.rows is not None else {})}
