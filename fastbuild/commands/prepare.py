"""``fastbuild prepare``: the options of :class:`~fastbuild.specs.PrepareConfig`, then one call of the library."""

from __future__ import annotations

from fastbuild.commands import options as cli_options
from fastbuild.specs import PrepareConfig

DESCRIPTION = ("Parse the annotation (GTF, GFF3 or SpliceAI's annotation table), reconcile contig names with the "
               "FASTA, and write genes, transcripts, exons, introns and splice sites as Parquet tables; prints counts "
               "and a GT/AG sanity line.")


def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="turn a FASTA + GTF/GFF3/SpliceAI table into reference tables",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    cli_options.add_config_arguments(p, PrepareConfig())
    cli_options.add_verbose(p)
    p.set_defaults(func=run_prepare)


def run_prepare(args) -> int:
    from fastbuild.prepare import format_summary, prepare

    config = cli_options.config_from_args(PrepareConfig(), args)
    print(format_summary(prepare(config)))
    print(f"reference tables written to {config.out}")
    return 0
