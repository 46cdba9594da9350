"""ReportConfig: every option of ``fastbuild report``, declared once (light: no polars, no pyarrow)."""

from __future__ import annotations

from dataclasses import dataclass

from fastbuild.options import check_fields, option

REPORT_FILE = "report.html"
CARD_FILE = "README.md"
#: First line of a dataset card fastbuild wrote (a README.md without it is the user's, never replaced).
CARD_MARKER = "<!-- dataset card written by fastbuild report; fastbuild rewrites this file -->"


def is_fastbuild_card(path) -> bool:
    """True when ``path`` is a file whose first line is :data:`CARD_MARKER` (a card fastbuild wrote)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline().rstrip("\n") == CARD_MARKER
    except OSError:
        return False


@dataclass(frozen=True)
class ReportConfig:
    """Options of :func:`fastbuild.report.write_report` (``fastbuild report DATASET``).

    ``dataset`` is the command's positional argument (the ``--output-dir`` of a finished build).
    """

    dataset: str | None = option(None, "the dataset folder (the --output-dir of a finished build)",
                                 command_line=False)
    out_dir: str | None = option(None, f"write {REPORT_FILE} and {CARD_FILE} into this folder (default: the dataset "
                                       "folder)", cli={"metavar": "DIR"})
    card: bool = option(True, f"also write the dataset card {CARD_FILE} (never over a {CARD_FILE} that fastbuild "
                              "did not write)", cli={"negatable": True})

    def __post_init__(self):
        check_fields(self)
