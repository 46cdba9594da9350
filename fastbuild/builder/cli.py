"""``fastbuild build`` and ``fastbuild validate`` command-line options (thin layers)."""

from __future__ import annotations

import argparse
import json
import re

from fastbuild.builder.config import KMER_LAYOUTS, POLICIES, POSITION_ID_MODES, BuildConfig
from fastbuild.errors import FastbuildError


def _kmer_sizes(values: list[str]) -> tuple[int, ...]:
    sizes = []
    for v in values:
        for part in re.split(r"[,\s]+", v.strip()):
            if not part:
                continue
            if not part.isdigit():
                raise FastbuildError(f"--kmer-sizes: {part!r} is not a whole number")
            sizes.append(int(part))
    if sizes == [0] or not sizes:
        return ()
    if 0 in sizes:
        raise FastbuildError("--kmer-sizes: 0 means 'no k-mers' and cannot be combined with other sizes")
    return tuple(sizes)


def add_input_args(p) -> None:
    """Genome and annotation options shared by build and predict."""
    g = p.add_argument_group("inputs (none: the embedded demo)")
    g.add_argument("--fasta", help="genome FASTA (plain, bgzip or gzip)")
    g.add_argument("--gtf", "--annotation", dest="annotation", help="annotation: GTF, GFF3 or SpliceAI table")
    g.add_argument("--reference", help="reference tables from fastbuild prepare (instead of --gtf)")
    g.add_argument("--chrom-alias", metavar="FILE", help="two-column contig alias file (annotation name, FASTA name)")
    g.add_argument("--annotation-format", choices=["auto", "gtf", "gff3", "spliceai"], default="auto",
                   help="annotation format")


def add_selection_args(p, policies, default: str) -> None:
    """Gene selection options shared by build and predict."""
    s = p.add_argument_group("gene selection")
    s.add_argument("--n-genes", type=int, default=20000, help="number of genes to select (at least the extra genes)")
    s.add_argument("--subset-policy", choices=policies, default=default,
                   help="how to pick genes: most FP+FN / FP / FN errors of the base model, seeded random, only --gene-ids-file, or all")
    s.add_argument("--gene-types", nargs="+", default=[], metavar="TYPE", help="keep only genes of these types (e.g. protein_coding lncRNA)")
    s.add_argument("--gene-ids-file", help="genes to include first: ids or names, one per line, or a TSV/CSV")
    s.add_argument("--gene-col", help="column of --gene-ids-file holding the ids (TSV/CSV)")
    s.add_argument("--seed", type=int, default=42, help="seed of every random choice (per-gene seeds derive from it)")


def add_build(sub) -> None:
    p = sub.add_parser(
        "build", help="build the training dataset (no input flags: the embedded demo)",
        description="Select genes, label every position against the annotation and the base model's "
                    "scores (TP/FP/FN/TN), downsample easy true negatives, featurise the kept rows "
                    "(k-mers, score context, composition, gene features) and stream them into "
                    "Parquet batch files. Rerunning the same command resumes an interrupted build. "
                    "Without --fasta/--gtf/--reference it builds the embedded Arabidopsis demo.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_input_args(p)
    p.add_argument("--scores", help="score store of the base model (from fastbuild predict)")
    p.add_argument("--model", help="base model used to score genes the store lacks: 'spliceai' or .h5/.pt weight files or a folder")
    p.add_argument("--output-dir", default="fastbuild_out", help="dataset folder (batch files, master/, manifest, build_info.json)")
    add_selection_args(p, POLICIES, "error_total")

    lab = p.add_argument_group("labels and downsampling")
    lab.add_argument("--threshold", type=float, default=0.5, help="probability at which the base model calls a site")
    lab.add_argument("--consensus-window", type=int, default=2, help="a true site is TP if the model calls it within this many nt")
    lab.add_argument("--hard-prob", type=float, default=0.15, help="keep true negatives with max(donor, acceptor) prob at least this")
    lab.add_argument("--window", type=int, default=75, help="keep true negatives within this many nt of an annotated site")
    lab.add_argument("--easy-ratio", type=float, default=0.5, help="then keep this many easy true negatives per non-TN row (seeded sample)")
    lab.add_argument("--position-id-mode", choices=POSITION_ID_MODES, default="genomic",
                     help="genomic: one row per gene position; transcript/splice_aware: one row per transcript x position, labelled by that transcript's sites")

    f = p.add_argument_group("features")
    f.add_argument("--kmer-sizes", nargs="+", default=["3"], help="k-mer sizes, space- or comma-separated; 0 for none")
    f.add_argument("--kmer-layout", choices=KMER_LAYOUTS, default="auto",
                   help="wide: one uint16 column per k-mer; sparse: list columns of ids and counts; auto: wide for k <= 4")
    f.add_argument("--context-flank", nargs=2, type=int, default=[250, 249], metavar=("UP", "DOWN"),
                   help="k-mer/composition window: nt upstream and downstream of the position")

    r = p.add_argument_group("running")
    r.add_argument("--batch-size", type=int, default=1000, help="genes per batch file")
    r.add_argument("--batch-rows", type=int, default=20000, help="rows per Arrow record batch / Parquet row group: bounds memory")
    r.add_argument("--jobs", type=int, default=1, help="processes building batches in parallel (this one plus N-1 workers)")
    r.add_argument("--overwrite", action="store_true", help="discard an existing build in --output-dir and start over")
    r.add_argument("--run-workflow", action="store_true", help="score selected genes that lack scores with --model (implied when needed)")
    r.add_argument("--no-manifest", action="store_true", help="do not write gene_manifest.csv")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress on standard error")
    r.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    p.set_defaults(func=run_build)


def config_from_args(args) -> BuildConfig:
    return BuildConfig(
        fasta=args.fasta, annotation=args.annotation, reference=args.reference, scores=args.scores,
        model=args.model, chrom_alias=args.chrom_alias, annotation_format=args.annotation_format,
        output_dir=args.output_dir, n_genes=args.n_genes, subset_policy=args.subset_policy,
        gene_types=tuple(args.gene_types), gene_ids_file=args.gene_ids_file, gene_col=args.gene_col,
        batch_size=args.batch_size, batch_rows=args.batch_rows, kmer_sizes=_kmer_sizes(args.kmer_sizes),
        kmer_layout=args.kmer_layout, hard_prob=args.hard_prob, window=args.window,
        easy_ratio=args.easy_ratio, seed=args.seed, threshold=args.threshold,
        consensus_window=args.consensus_window, context_flank=tuple(args.context_flank),
        position_id_mode=args.position_id_mode, run_workflow=args.run_workflow,
        overwrite=args.overwrite, no_manifest=args.no_manifest, jobs=args.jobs,
        progress=args.progress, verbose=args.verbose,
    )


def run_build(args) -> int:
    from fastbuild.builder.report import summary_lines
    from fastbuild.builder.runner import build_dataset

    config = config_from_args(args)
    if config.run_workflow and not config.model:
        raise FastbuildError("--run-workflow needs --model (the base model that scores the genes)")
    result = build_dataset(config)
    print(summary_lines(result.info, result.output_dir))
    return 0


def add_validate(sub) -> None:
    p = sub.add_parser(
        "validate", help="check a built dataset folder",
        description="Check a dataset folder: one schema across files, the expected k-mer columns, no "
                    "nulls in labels, positions inside their genes, manifest agreeing with the files, "
                    "class counts agreeing with build_info.json. Exit status 0 only when all hold.",
    )
    p.add_argument("directory", help="the --output-dir of fastbuild build")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.set_defaults(func=run_validate)


def run_validate(args) -> int:
    from fastbuild.builder.validate import validate_dataset

    report = validate_dataset(args.directory)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.text())
    return 0 if report.ok else 1
