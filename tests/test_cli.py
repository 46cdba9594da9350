"""Command-line surface: help texts, man page, entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fastbuild.cli import get_parser, main

REPO = Path(__file__).resolve().parents[1]


def _subparsers(parser):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            return action.choices
    return {}


def test_every_option_has_help():
    subs = _subparsers(get_parser())
    assert {"prepare", "build", "validate"} <= set(subs)
    for name, sub in subs.items():
        for action in sub._actions:
            assert action.help, f"fastbuild {name} {action.option_strings or action.dest} lacks help"


@pytest.mark.parametrize("cmd", ["prepare", "build", "validate"])
def test_subcommand_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "usage: fastbuild " + cmd in capsys.readouterr().out


def test_build_help_names_the_reference_flags(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = capsys.readouterr().out
    for flag in ("--n-genes", "--subset-policy", "--gene-types", "--gene-ids-file", "--gene-col", "--batch-size",
                 "--batch-rows", "--kmer-sizes", "--hard-prob", "--window", "--easy-ratio", "--output-dir",
                 "--overwrite", "--run-workflow", "--position-id-mode", "--no-manifest", "--seed", "--threshold",
                 "--consensus-window", "--context-flank", "--jobs", "--progress", "--no-progress", "--kmer-layout"):
        assert flag in text, flag


def test_man_page_is_generated(tmp_path):
    out = tmp_path / "fastbuild.1"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_manpage.py"), str(out)], check=True)
    page = out.read_text()
    assert page.startswith(".TH") or ".TH" in page.splitlines()[0]
    for text in ("fastbuild build", "fastbuild prepare", "fastbuild validate", "kmer\\-sizes"):
        assert text in page, text


def test_module_entry_point_and_version():
    res = subprocess.run([sys.executable, "-m", "fastbuild", "--version"], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0 and res.stdout.startswith("fastbuild ")


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
