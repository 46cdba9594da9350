"""``fastbuild report DATASET``: the options of :class:`~fastbuild.report.config.ReportConfig`, one library call."""

from __future__ import annotations

from fastbuild.commands import options as cli_options
from fastbuild.report.config import CARD_FILE, REPORT_FILE, ReportConfig

DESCRIPTION = (
    f"Write {REPORT_FILE}, one self-contained HTML page (plots as inline SVG: rows by label and by sampling stratum, "
    "score distributions by pred_type, gene types, TP/FP/FN per gene, gene length and splice density, splits, the "
    f"schema with its column roles), and {CARD_FILE}, the dataset card (overview, profile, technical specification, "
    "how to validate), from the statistics a finished build recorded; its rows are not read again. fastbuild build "
    "writes both when it finishes; this command writes them again, or for a build made before reports existed "
    "(statistics such builds did not record are marked 'not recorded')."
)


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="the HTML report and README.md dataset card of a built dataset",
                       description=DESCRIPTION, formatter_class=cli_options.HelpFormatter)
    p.add_argument("dataset", metavar="DATASET", help="the dataset folder (the --output-dir of a finished build)")
    cli_options.add_config_arguments(p, ReportConfig())
    cli_options.add_verbose(p)
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    from fastbuild.report.write import write_report

    config = cli_options.config_from_args(ReportConfig(), args)
    result = write_report(config, dataset=args.dataset)
    card = f" and {result.card}" if result.card else ""
    print(f"wrote {result.html}{card} in {result.seconds:.2f} s")
    return 0
