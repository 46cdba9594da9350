"""The sub-commands: each module defines ``add_parser(subparsers)`` and the function it runs.

They only turn options into the library's configuration objects and print results; the work
happens in the library (:mod:`fastbuild.prepare`, :mod:`fastbuild.basemodel`,
:mod:`fastbuild.builder`).
"""

from fastbuild.commands import build, import_scores, predict, prepare, report, tracks, validate, variants

COMMANDS = (prepare, predict, import_scores, build, validate, report, variants, tracks)
"""In the order ``fastbuild --help`` lists them."""
