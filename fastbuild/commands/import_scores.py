"""``fastbuild import``: the options of :class:`~fastbuild.tracks.config.ImportConfig`, then one library call."""

from __future__ import annotations

import json

from fastbuild.commands import options as cli_options
from fastbuild.commands.options import add_verbose
from fastbuild.tracks.config import ImportConfig

DESCRIPTION = (
    "Bring your own scores: import another model's per-base donor/acceptor scores (bigWigs per strand, or a "
    "Parquet/TSV table of chrom, position, strand, donor, acceptor) into a score store. Each annotated gene whose "
    "every base is scored on its strand is imported; the store records the model as 'external' with the source "
    "files' sha256, and fastbuild build reads it exactly like a store of fastbuild predict. Without "
    "--fasta/--gtf/--reference the genes are the embedded demo's. bigWigs need the tracks extra (pybigtools)."
)


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import another model's per-base scores into a score store",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    cli_options.add_config_arguments(p, ImportConfig())
    add_verbose(p)
    p.set_defaults(func=run_import)


def run_import(args) -> int:
    config = cli_options.config_from_args(ImportConfig(), args)
    from fastbuild.tracks.importer import import_scores

    print(json.dumps(import_scores(config), indent=1))
    return 0
