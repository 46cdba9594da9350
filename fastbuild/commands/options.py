"""Command-line option groups shared by several commands (one definition each)."""

from __future__ import annotations

import argparse

from fastbuild.reference import ANNOTATION_FORMATS, InputSpec
from fastbuild.selection import SelectionSpec


def add_verbose(p: argparse.ArgumentParser) -> None:
    """``-v`` / ``--verbose`` (repeatable)."""
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v: info, -vv: debug)")


def add_progress(p) -> None:
    """``--progress`` / ``--no-progress``."""
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show progress on standard error")


def add_input_args(p) -> None:
    """Genome and annotation options shared by build and predict."""
    g = p.add_argument_group("inputs (none: the embedded demo)")
    g.add_argument("--fasta", help="genome FASTA (plain, bgzip or gzip)")
    g.add_argument("--gtf", "--annotation", dest="annotation", help="annotation: GTF, GFF3 or SpliceAI table")
    g.add_argument("--reference", help="reference tables from fastbuild prepare (instead of --gtf)")
    g.add_argument("--chrom-alias", metavar="FILE",
                   help="two-column contig alias file (annotation name, FASTA name)")
    g.add_argument("--annotation-format", choices=ANNOTATION_FORMATS, default="auto", help="annotation format")


def input_spec(args) -> InputSpec:
    return InputSpec(fasta=args.fasta, annotation=args.annotation, reference=args.reference,
                     chrom_alias=args.chrom_alias, annotation_format=args.annotation_format)


def add_selection_args(p, policies, default: str) -> None:
    """Gene selection options shared by build and predict."""
    s = p.add_argument_group("gene selection")
    s.add_argument("--n-genes", type=int, default=20000, help="number of genes to select (at least the extra genes)")
    s.add_argument("--subset-policy", choices=policies, default=default,
                   help="how to pick genes: most FP+FN / FP / FN errors of the base model, seeded random, "
                        "only --gene-ids-file, or all")
    s.add_argument("--gene-types", nargs="+", default=[], metavar="TYPE",
                   help="keep only genes of these types (e.g. protein_coding lncRNA)")
    s.add_argument("--gene-ids-file", help="genes to include first: ids or names, one per line, or a TSV/CSV")
    s.add_argument("--gene-col", help="column of --gene-ids-file holding the ids (TSV/CSV)")
    s.add_argument("--seed", type=int, default=42, help="seed of every random choice (per-gene seeds derive from it)")


def selection_spec(args) -> SelectionSpec:
    return SelectionSpec(n_genes=args.n_genes, subset_policy=args.subset_policy, gene_types=tuple(args.gene_types),
                         gene_ids_file=args.gene_ids_file, gene_col=args.gene_col, seed=args.seed)


def add_execution_args(p, what: str) -> None:
    """Where work units run: ``--jobs``, a Dask cluster, or one unit at a time (job arrays)."""
    e = p.add_argument_group(
        "where the work runs",
        f"The {what} is planned as fixed work units (plan.json); every way of running them gives "
        "identical output. Default: units one after another in this process.")
    e.add_argument("--jobs", type=int, default=1, help="local worker processes running units in parallel")
    e.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run units on the Dask cluster at this scheduler address (started by you, e.g. with "
                        "dask-jobqueue); default: $DASK_SCHEDULER_ADDRESS when set; needs fastbuild-splice[dask]")
    e.add_argument("--scheduler-file", metavar="FILE", help="like --dask-scheduler, from a Dask scheduler file")
    j = e.add_mutually_exclusive_group()
    j.add_argument("--plan-only", action="store_true",
                   help="write the plan and print its number of units N, run nothing (job arrays: then run "
                        "--unit 1..N with the same options, then --finalise)")
    j.add_argument("--unit", type=int, metavar="J", help="run only unit J (1..N) of the plan made by --plan-only")
    j.add_argument("--finalise", "--finalize", action="store_true",
                   help="check every planned unit is finished and publish the result (refuses, naming missing units)")


def execution_action(args) -> str:
    """'plan', 'unit', 'finalise' or 'run' from :func:`add_execution_args` options."""
    if args.plan_only:
        return "plan"
    if args.unit is not None:
        return "unit"
    return "finalise" if args.finalise else "run"


def executor_from_args(args, guard_dir=None):
    """The executor of ``--jobs`` / ``--dask-scheduler`` / ``--scheduler-file``."""
    from fastbuild.work import make_executor

    return make_executor(args.jobs, dask_scheduler=args.dask_scheduler, scheduler_file=args.scheduler_file,
                         guard_dir=guard_dir, use_env=True)
