"""``fastbuild tracks``: the options of :class:`~fastbuild.tracks.config.TracksConfig`, then one library call."""

from __future__ import annotations

import json

from fastbuild.commands import options as cli_options
from fastbuild.commands.options import add_verbose
from fastbuild.tracks.config import TracksConfig

DESCRIPTION = (
    "Export genome-browser tracks into one folder: from a score store, bigWigs of donor, acceptor and neither; "
    "from a dataset, a BED9 of its TP/FP/FN sites coloured by class and bigWigs of chosen numeric columns; from a "
    "meta-model's predictions (gene_id, position, p_donor, p_acceptor), bigWigs of its probabilities. Each value "
    "sits on its gene's strand: one file per strand, or strands collapsed (maximum; minimum for neither). Contig "
    "names and lengths come from the FASTA. Also writes igv_session.xml and tracks.json. Needs the tracks extra "
    "(pybigtools)."
)


def add_parser(sub) -> None:
    p = sub.add_parser("tracks", help="export bigWig / BED tracks of a score store, a dataset or predictions",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    cli_options.add_config_arguments(p, TracksConfig())
    add_verbose(p)
    p.set_defaults(func=run_tracks)


def run_tracks(args) -> int:
    config = cli_options.config_from_args(TracksConfig(), args)
    from fastbuild.tracks.export import export_tracks

    manifest = export_tracks(config)
    files = [{k: f[k] for k in ("file", "intervals", "lines", "conflicts") if k in f} for f in manifest["files"]]
    print(json.dumps({"out": config.out, "source": manifest["source"]["kind"], "strands": manifest["strands"],
                      "files": files, "empty": manifest["empty"]}, indent=1))
    return 0
