"""What a command works on, as given: genome and annotation (:class:`InputSpec`), genes (:class:`SelectionSpec`).

Shared by ``build`` and ``predict``; light on purpose (no numpy, polars or numba), so that a
command's parser and its argument checks come back without importing the library's engines.
Loading what these name is :mod:`fastbuild.reference` and :mod:`fastbuild.selection`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastbuild.checks import positive, whole
from fastbuild.errors import FastbuildError
from fastbuild.options import check_fields, option

__all__ = ["ANNOTATION_FORMATS", "POLICIES", "SCORELESS_POLICIES", "InputSpec", "PrepareConfig", "SelectionSpec"]

ANNOTATION_FORMATS = ("auto", "gtf", "gff3", "spliceai")
INPUTS = "inputs (none: the embedded demo)"


@dataclass(frozen=True)
class InputSpec:
    """Genome and annotation options as given (``--fasta``, ``--gtf``, ``--reference``, ...)."""

    fasta: str | None = option(None, "genome FASTA (plain, bgzip or gzip)", group=INPUTS)
    annotation: str | None = option(None, "annotation: GTF, GFF3 or SpliceAI table", flags=("--gtf", "--annotation"),
                                    group=INPUTS)
    reference: str | None = option(None, "reference tables from fastbuild prepare (instead of --gtf)", group=INPUTS)
    chrom_alias: str | None = option(None, "two-column contig alias file (annotation name, FASTA name)",
                                     group=INPUTS, cli={"metavar": "FILE"})
    annotation_format: str = option("auto", "annotation format", group=INPUTS, choices=ANNOTATION_FORMATS)

    def __post_init__(self):
        check_fields(self)
        if (self.fasta is None) != (self.annotation is None) and self.reference is None:
            raise FastbuildError("give --fasta and --gtf together (or --reference DIR from fastbuild prepare)")

    @property
    def is_demo(self) -> bool:
        """No genome or annotation given: the embedded demo."""
        return self.fasta is None and self.annotation is None and self.reference is None



POLICIES = ("error_total", "error_fp", "error_fn", "random", "custom", "all")
"""Every selection policy; ``predict`` offers the ones that need no scores (:data:`SCORELESS_POLICIES`)."""
SCORELESS_POLICIES = ("all", "random", "custom")


SELECTION = "gene selection"


def _seed(name: str, value) -> None:
    whole(name, value, 0, 2**63 - 1)


@dataclass(frozen=True)
class SelectionSpec:
    """Which genes a command works on (``--n-genes``, ``--subset-policy``, ... ``--seed``)."""

    n_genes: int = option(20000, "number of genes to select (at least the extra genes)", group=SELECTION,
                          check=positive)
    subset_policy: str = option(
        "error_total", "how to pick genes: most FP+FN / FP / FN errors of the base model, seeded random, "
                       "only --gene-ids-file, or all", group=SELECTION, choices=POLICIES)
    gene_types: tuple[str, ...] = option((), "keep only genes of these types (e.g. protein_coding lncRNA)",
                                         group=SELECTION, parse=tuple, cli={"nargs": "+", "metavar": "TYPE"})
    gene_ids_file: str | None = option(None, "genes to include first: ids or names, one per line, or a TSV/CSV",
                                       group=SELECTION)
    gene_col: str | None = option(None, "column of --gene-ids-file holding the ids (TSV/CSV)", group=SELECTION)
    seed: int = option(42, "seed of every random choice (per-gene seeds derive from it)", group=SELECTION,
                       check=_seed)

    def __post_init__(self):
        check_fields(self)
        if self.subset_policy == "custom" and not self.gene_ids_file:
            raise FastbuildError("--subset-policy custom needs --gene-ids-file")

    @property
    def needs_scores(self) -> bool:
        """True for the policies that rank genes by the base model's errors."""
        return self.subset_policy not in SCORELESS_POLICIES


PREPARE = "prepare"


@dataclass(frozen=True)
class PrepareConfig:
    """Inputs and options of :func:`fastbuild.prepare.prepare` (``fastbuild prepare``)."""

    fasta: str | None = option(None, "genome FASTA: plain, bgzip or gzip (gzip is decompressed once per machine into "
                                     "the cache, see --cache-dir; bgzip is read in place)", cli={"required": True})
    annotation: str | None = option(
        None, "annotation: GTF, GFF3 or SpliceAI table (#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END), "
              "optionally gzipped", flags=("--gtf", "--annotation"), cli={"required": True})
    out: str | None = option(None, "output folder for the reference tables", cli={"required": True})
    annotation_format: str = option("auto", "annotation format (auto: guessed from the file name and content)",
                                    choices=ANNOTATION_FORMATS)
    chrom_alias: str | None = option(None, "two-column file mapping annotation contig names to FASTA names "
                                           "(chr1/1 and chrM/MT match without it)", cli={"metavar": "FILE"})
    tsv: bool = option(False, "also write the reference implementation's gene_features.tsv and splice_sites.tsv")
    skip_malformed: bool = option(False, "count, report and skip malformed annotation lines instead of stopping at "
                                         "the first")
    cache_dir: str | None = option(
        None, "folder for the decompressed copy of a gzip FASTA (one per distinct file, as large as the genome) and "
              "for indexes that cannot go beside the FASTA (default: the user cache, $FASTBUILD_CACHE_DIR/fasta or "
              "~/.cache/fastbuild/fasta, shared by every command and output folder; bgzip the FASTA with 'bgzip "
              "genome.fa' and it is never decompressed)", cli={"metavar": "DIR"})

    def __post_init__(self):
        check_fields(self)

    def require_inputs(self) -> None:
        """FastbuildError unless the FASTA, the annotation and the output folder are all given."""
        missing = [flag for flag, value in (("--fasta", self.fasta), ("--gtf", self.annotation), ("--out", self.out))
                   if value is None]
        if missing:
            raise FastbuildError(f"prepare needs {', '.join(missing)}")
