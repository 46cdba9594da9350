"""Command line: ``fastbuild prepare | build | predict | validate``.

:func:`get_parser` builds the whole parser (argparse-manpage reads it to make the man page);
:func:`main` runs one command and turns user errors into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from fastbuild import __version__
from fastbuild.errors import FastbuildError

log = logging.getLogger("fastbuild")

DESCRIPTION = """\
Build position-centric splice-site training datasets for meta-models that learn from a base
model's (SpliceAI's) mistakes: one row per nucleotide, labelled donor/acceptor/neither and
TP/FP/FN/TN, with k-mer counts, distances, base-model score context and gene features.
Coordinates are 1-based genomic positions; splice sites sit on the exon-side base (SpliceAI's
convention)."""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more log output (-v: info, -vv: debug)")


def _add_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare", help="turn a FASTA + GTF/GFF3/SpliceAI table into reference tables",
        description="Parse the annotation (GTF, GFF3 or SpliceAI's annotation table), reconcile "
                    "contig names with the FASTA, and write genes, transcripts, exons, introns and "
                    "splice sites as Parquet tables; prints counts and a GT/AG sanity line.",
    )
    p.add_argument("--fasta", required=True, help="genome FASTA: plain, bgzip or gzip (gzip is decompressed once into the cache)")
    p.add_argument("--gtf", "--annotation", dest="annotation", required=True,
                   help="annotation: GTF, GFF3 or SpliceAI table (#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END), optionally gzipped")
    p.add_argument("--out", required=True, help="output folder for the reference tables")
    p.add_argument("--annotation-format", choices=["auto", "gtf", "gff3", "spliceai"], default="auto",
                   help="annotation format (default: guessed from the file name and content)")
    p.add_argument("--chrom-alias", metavar="FILE",
                   help="two-column file mapping annotation contig names to FASTA names (chr1/1 and chrM/MT match without it)")
    p.add_argument("--tsv", action="store_true",
                   help="also write the reference implementation's gene_features.tsv and splice_sites.tsv")
    p.add_argument("--skip-malformed", action="store_true",
                   help="count, report and skip malformed annotation lines instead of stopping at the first")
    p.add_argument("--cache-dir", help="folder for decompressed FASTAs and indexes (default: OUT/cache)")
    _add_common(p)
    p.set_defaults(func=_run_prepare)


def _run_prepare(args) -> int:
    from fastbuild.prepare import PrepareConfig, format_summary, prepare

    summary = prepare(PrepareConfig(
        fasta=args.fasta, annotation=args.annotation, out=args.out,
        annotation_format=args.annotation_format, chrom_alias=args.chrom_alias, tsv=args.tsv,
        skip_malformed=args.skip_malformed, cache_dir=args.cache_dir,
    ))
    print(format_summary(summary))
    print(f"reference tables written to {args.out}")
    return 0


def get_parser() -> argparse.ArgumentParser:
    """The full ``fastbuild`` argument parser (also read by argparse-manpage)."""
    parser = argparse.ArgumentParser(prog="fastbuild", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastbuild {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_prepare(sub)
    for add in _extra_commands():
        add(sub)
    return parser


def _extra_commands():
    """Sub-command installers of the other modules."""
    from fastbuild.builder.cli import add_build, add_validate
    from fastbuild.predict import add_predict

    return [add_predict, add_build, add_validate]


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="fastbuild: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("fastbuild").setLevel(level)


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _setup_logging(getattr(args, "verbose", 0))
    try:
        return args.func(args)
    except FastbuildError as exc:
        print(f"fastbuild: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fastbuild: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
