"""Compare the rows of two fastbuild datasets (contents, not files).

    python scripts/compare_datasets.py OUT_A OUT_B

Reads ``master/*.parquet`` of both folders, checks that the schemas (with their role
metadata) agree and that the rows are identical in build order; exits 0 when they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow.dataset as ds


def load(folder: Path):
    files = sorted((folder / "master").glob("batch_*.parquet"))
    if not files:
        raise SystemExit(f"{folder}: no master/batch_*.parquet")
    return ds.dataset([str(f) for f in files], format="parquet").to_table()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = p.parse_args(argv)
    a, b = load(args.a), load(args.b)
    problems = []
    if not a.schema.equals(b.schema, check_metadata=True):
        problems.append("schemas differ")
    if a.num_rows != b.num_rows:
        problems.append(f"{a.num_rows:,} vs {b.num_rows:,} rows")
    elif not problems and not a.equals(b):
        bad = [name for name in a.column_names if not a.column(name).equals(b.column(name))]
        problems.append(f"columns differ: {', '.join(bad[:10])}")
    if problems:
        print(f"DIFFERENT: {'; '.join(problems)}")
        return 1
    print(f"identical: {a.num_rows:,} rows x {a.num_columns} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
