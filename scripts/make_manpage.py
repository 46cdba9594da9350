#!/usr/bin/env python3
"""Write the fastbuild man page (``fastbuild.1``) from ``fastbuild.cli:get_parser``.

Usage: ``python scripts/make_manpage.py [OUTPUT]`` (default: ``man/fastbuild.1``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def render() -> str:
    from argparse_manpage.manpage import Manpage

    from fastbuild._version import __version__
    from fastbuild.cli import get_parser

    page = Manpage(get_parser(), _data={"project_name": "fastbuild", "version": __version__,
                                        "description": "position-centric splice-site training datasets"})
    return str(page)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "man" / "fastbuild.1"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
