"""``python -m fastbuild`` runs the command line."""

from fastbuild.cli import run

run()
