"""Writing a report: ``report.html`` and the ``README.md`` dataset card, atomically.

:func:`write_report` serves ``fastbuild report DATASET`` (a finished folder, its statistics read
from its files); :func:`build_report_files` serves a build's finalise (the statistics it holds in
memory), which writes the files before ``_SUCCESS``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from fastbuild import atomic
from fastbuild.errors import FastbuildError
from fastbuild.report.card import render_card
from fastbuild.report.config import CARD_FILE, REPORT_FILE, ReportConfig, is_fastbuild_card
from fastbuild.report.facts import DatasetFacts, facts_from_build, facts_from_folder
from fastbuild.report.page import render

log = logging.getLogger("fastbuild")


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote: the page, the card (None when not asked for) and the seconds it took."""

    html: Path
    card: Path | None
    seconds: float


def card_is_ours(path: Path) -> bool:
    """True when ``path`` is absent or a card fastbuild wrote (its first line is ``CARD_MARKER``)."""
    return not path.exists() or is_fastbuild_card(path)


def report_files(facts: DatasetFacts, card: bool = True) -> dict[str, str]:
    """File name -> content: the HTML page and (with ``card``) the dataset card."""
    files = {REPORT_FILE: render(facts)}
    if card:
        files[CARD_FILE] = render_card(facts)
    return files


def write_report(config: ReportConfig | None = None, **options) -> ReportResult:
    """Write the report of a finished dataset folder.

    Parameters
    ----------
    config : ReportConfig, optional
        ``dataset`` (required), ``out_dir`` (default: the dataset folder) and ``card``; keyword
        ``options`` override its fields.

    Returns
    -------
    ReportResult

    Raises
    ------
    FastbuildError
        When the folder is not a finished dataset, or ``README.md`` exists there and fastbuild did
        not write it (pass ``card=False`` or another ``out_dir``).
    """
    from dataclasses import replace

    config = replace(config or ReportConfig(), **options)
    if not config.dataset:
        raise FastbuildError("fastbuild report needs the dataset folder (the --output-dir of a finished build)")
    t0 = time.perf_counter()
    facts = facts_from_folder(config.dataset)
    out = atomic.ensure_dir(Path(config.out_dir or config.dataset))
    card = out / CARD_FILE
    if config.card and not card_is_ours(card):
        raise FastbuildError(f"{card} exists and fastbuild did not write it; move it, pass --no-card, or write the "
                             "report elsewhere with --out-dir")
    for name, text in report_files(facts, config.card).items():
        atomic.write_text(out / name, text)
    return ReportResult(out / REPORT_FILE, card if config.card else None, time.perf_counter() - t0)


def build_report_files(out: Path, info: dict, manifest, batches: list, schema) -> dict[str, str]:
    """The report files of a build being finalised (written by finalise before ``_SUCCESS``).

    A ``README.md`` fastbuild did not write is left alone (a warning says so). A failure here
    must not keep a finished build from being published: it is logged, and no report is written
    (``fastbuild report OUT`` writes it later).
    """
    try:
        facts = facts_from_build(out, info, manifest, batches, schema)
        ours = card_is_ours(Path(out) / CARD_FILE)
        if not ours:
            log.warning("%s exists and fastbuild did not write it: the dataset card is not written",
                        Path(out) / CARD_FILE)
        return report_files(facts, ours)
    except Exception as exc:  # the report is a by-product: never lose a finished build to it
        log.warning("the dataset report was not written (%s: %s); run fastbuild report %s", type(exc).__name__,
                    exc, out)
        return {}
