"""fastbuild report: the HTML page and the README.md card of a build, from the statistics it recorded."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from fastbuild.builder.schema import PRED_TYPES
from fastbuild.builder.stats import SCORE_BINS, BatchStats, GeneStats
from fastbuild.cli import main
from fastbuild.report import svg
from fastbuild.report.config import CARD_MARKER
from fastbuild.report.facts import facts_from_folder
from fastbuild.report.figures import FIGURE_IDS
from fastbuild.report.write import build_report_files, report_files

SPLIT = "region:test=NC_003070.9:1-300000;train=rest"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo with a split, in three batch files (statistics merged over batches)."""
    out = tmp_path_factory.mktemp("report") / "demo"
    assert main(["build", "--output-dir", str(out), "--no-progress", "--split", SPLIT, "--batch-size", "100"]) == 0
    return out


def _plots(html: str) -> list[str]:
    return re.findall(r'<svg class="plot" id="([^"]+)"', html)


def test_build_writes_a_self_contained_report_and_a_card(built):
    html = (built / "report.html").read_text()
    assert _plots(html) == list(FIGURE_IDS)  # every plot drawn, in page order
    assert "not recorded" not in html and "not applicable" not in html
    assert "<script" not in html and not re.search(r'(src|href)="(?!#|data:)', html)  # nothing fetched
    for section in ("overview", "profile", "technical", "validate"):
        assert f'<section id="{section}">' in html
    card = (built / "README.md").read_text()
    assert card.splitlines()[0] == CARD_MARKER
    for heading in ("## Overview", "## Profile", "## Technical specification", "## How to validate"):
        assert heading in card
    assert f"fastbuild validate {built.name}" in card


def test_recorded_statistics_add_up_to_build_info(built):
    info = json.loads((built / "build_info.json").read_text())
    facts = facts_from_folder(built)
    assert len(facts.batches) == 3
    strata = facts.strata()
    assert sum(r for _, r in strata.values()) == info["rows"]
    assert sum(p for p, _ in strata.values()) == info["positions_scanned"]
    assert strata["non_tn"][0] == strata["non_tn"][1]  # every TP/FP/FN kept
    hist = facts.score_hist()
    assert hist.shape == (2, len(PRED_TYPES), SCORE_BINS)
    for i, p in enumerate(PRED_TYPES):
        assert hist[0, i].sum() == hist[1, i].sum() == info["counts"]["pred_type"][p]
    genes = facts.genes()
    assert genes.height == info["genes"]
    assert {p: int(genes[p].sum()) for p in PRED_TYPES} == info["counts"]["pred_type"]
    splits = facts.splits()
    assert dict(zip(splits["split"], splits["genes"], strict=True)) == info["split"]["genes"]
    assert splits["rows"].sum() == info["rows"] and set(splits["split"]) == {"test", "train"}


def test_card_tables_carry_the_build_counts(built):
    info = json.loads((built / "build_info.json").read_text())
    card = (built / "README.md").read_text()
    for p in PRED_TYPES:
        assert re.search(rf"^\| {p} \|.*\| {info['counts']['pred_type'][p]:,} \|$", card, re.M), p


def test_report_command_rewrites_the_same_files(built, tmp_path, capsys):
    assert main(["report", str(built), "--out-dir", str(tmp_path)]) == 0
    assert "report.html" in capsys.readouterr().out
    # from the folder's files (fastbuild report) = from memory (the build's finalise)
    assert (tmp_path / "report.html").read_text() == (built / "report.html").read_text()
    assert (tmp_path / "README.md").read_text() == (built / "README.md").read_text()


def _as_old(b: BatchStats) -> BatchStats:
    """A batch's statistics as a build before this change recorded them."""
    genes = tuple(GeneStats(g.gene_id, g.rows, g.positions) for g in b.genes)
    return dataclasses.replace(b, genes=genes, score_hist=(), strata=())


def test_older_builds_say_what_was_not_recorded(built):
    facts = facts_from_folder(built)
    old = dataclasses.replace(facts, batches=tuple(_as_old(b) for b in facts.batches))
    html = report_files(old)["report.html"]
    assert set(_plots(html)) == set(FIGURE_IDS) - {"plot-strata", "plot-scores-donor", "plot-scores-acceptor",
                                                   "plot-errors-per-gene"}
    assert html.count("not recorded by this build") >= 4
    # and an old footer reads back with the new fields empty
    d = json.loads(facts.batches[0].to_json())
    for key in ("gene_counts", "gene_splits", "score_hist", "strata"):
        del d[key]
    back = BatchStats.from_json(json.dumps(d))
    assert back.score_hist == () and back.strata == () and back.genes[0].counts == ()
    assert BatchStats.from_json(facts.batches[0].to_json()) == facts.batches[0]


def test_eval_mode_without_manifest(tmp_path):
    out = tmp_path / "eval"
    assert main(["build", "--output-dir", str(out), "--no-progress", "--eval-mode", "--no-manifest",
                 "--n-genes", "4", "--kmer-sizes", "0"]) == 0
    html = (out / "report.html").read_text()
    assert "an evaluation-mode build keeps every position" in html
    assert "--no-manifest" in html
    assert {"plot-labels", "plot-scores-donor", "plot-errors-per-gene", "plot-roles"} <= set(_plots(html))
    assert not {"plot-strata", "plot-gene-length", "plot-splits"} & set(_plots(html))


def test_a_readme_fastbuild_did_not_write_is_kept(built, tmp_path, capsys):
    mine = tmp_path / "README.md"
    mine.write_text("# my notes\n")
    assert main(["report", str(built), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "README.md exists and fastbuild did not write it" in err and len(err.strip().splitlines()) == 1
    assert main(["report", str(built), "--out-dir", str(tmp_path), "--no-card"]) == 0
    assert mine.read_text() == "# my notes\n" and (tmp_path / "report.html").is_file()
    facts = facts_from_folder(built)
    files = build_report_files(tmp_path, facts.info, facts.manifest, list(facts.batches), facts.schema)
    assert set(files) == {"report.html"}  # the build's finalise leaves it alone too


def test_report_of_a_folder_that_is_no_dataset(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a finished fastbuild dataset" in capsys.readouterr().err


def test_svg_scales_and_escaping():
    assert svg.Scale.fit([3, 250_000], log=True) == svg.Scale(0.5, 1e6, True)  # counts: a 1 stands off the axis
    assert svg.Scale(0.5, 1e6, True).ticks() == [1, 10, 100, 1e3, 1e4, 1e5, 1e6]
    assert svg.Scale.fit([0.002, 0.5], log=True) == svg.Scale(1e-3, 1.0, True)
    assert svg.Scale.fit([0, 37], log=False).ticks() == [0, 10, 20, 30, 40, 50]
    bars = svg.bar_chart("p", "a <b> & c", ["x<y", "z"], {"n": [0, 5]})
    assert "<b>" not in bars and "x&lt;y" in bars and bars.count('class="bar"') == 1  # zeros draw no bar
    flat = svg.histogram("h", "t", [0, 1, 2], {"s": [0, 0]}, log=True)  # all empty on a log axis: no crash
    assert flat.startswith('<svg class="plot" id="h"') and flat.endswith("</svg>")
    assert np.isclose(svg.Scale(1, 100, True).frac(10), 0.5) and svg.Scale(0.5, 100, True).frac(1) > 0


def test_overwrite_clears_only_a_card_fastbuild_wrote(tmp_path):
    """--overwrite deletes the previous build's README.md card, never a README.md of the user's."""
    from fastbuild.builder.output import _clear_card

    ours, theirs = tmp_path / "ours.md", tmp_path / "theirs.md"
    ours.write_text(CARD_MARKER + "\n# demo\n")
    theirs.write_text("# my notes\n" + CARD_MARKER + "\n")
    _clear_card(ours)
    _clear_card(theirs)
    _clear_card(tmp_path / "absent.md")
    assert not ours.exists() and theirs.exists()
