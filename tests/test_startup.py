"""Start-up: ``fastbuild --help`` and argument errors come back without importing an engine.

The parsers are generated from the configuration dataclasses, which import nothing heavy; the
builder, the base-model engines, numba, polars and pyarrow load only when a command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numba", "polars", "pyarrow", "fastbuild.builder.engine", "fastbuild.basemodel.forward",
         "fastbuild.basemodel.scoring", "fastbuild.annotation")

PROBE = """
import contextlib, io, json, sys
from fastbuild.cli import main
argv = json.loads(sys.argv[1])
err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
heavy = json.loads(sys.argv[2])
print(json.dumps({"rc": rc, "err": err.getvalue(), "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _probe(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("argv", [["--help"], ["build", "--help"], ["predict", "--help"], ["prepare", "--help"],
                                  ["validate", "--help"]], ids=lambda a: " ".join(a))
def test_help_imports_no_engine(argv):
    got = _probe(argv)
    assert got["rc"] == 0 and got["loaded"] == []


@pytest.mark.parametrize("argv", [["build", "--bogus"], ["build", "--batch-rows", "1"], ["build", "--jobs", "0"],
                                  ["predict", "--model", "m", "--scores", "s", "--threads", "-1"],
                                  ["build", "--kmer-sizes", "13"], ["build", "--split", "chrom:"]],
                         ids=lambda a: " ".join(a))
def test_argument_errors_import_no_engine(argv):
    got = _probe(argv)
    assert got["rc"] == 2 and got["err"].strip() and got["loaded"] == []
