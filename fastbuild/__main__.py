"""``python -m fastbuild`` runs the command line."""

from fastbuild.cli import main

raise SystemExit(main())
