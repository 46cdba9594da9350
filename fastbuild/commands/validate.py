"""``fastbuild validate DIR``: check a built dataset folder."""

from __future__ import annotations

import json

from fastbuild.commands.options import add_verbose


def add_parser(sub) -> None:
    p = sub.add_parser(
        "validate", help="check a built dataset folder",
        description="Check a dataset folder: one schema across files, the expected k-mer columns, no "
                    "nulls in labels, positions inside their genes, manifest agreeing with the files, "
                    "class counts agreeing with build_info.json. Exit status 0 only when all hold.",
    )
    p.add_argument("directory", help="the --output-dir of fastbuild build")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_verbose(p)
    p.set_defaults(func=run_validate)


def run_validate(args) -> int:
    from fastbuild.builder.validate import validate_dataset

    report = validate_dataset(args.directory)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.text())
    return 0 if report.ok else 1
