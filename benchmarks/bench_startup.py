#!/usr/bin/env python3
"""Start-up time of each command: ``fastbuild CMD --help`` and an argument error, wall seconds.

    python benchmarks/bench_startup.py [--before CHECKOUT] [--rounds 5]

With ``--before`` the same commands also run from another checkout of fastbuild (e.g. a
``git worktree`` of an older commit, put first on ``PYTHONPATH``), alternating with this one, so
the two columns come from one run on one machine. Prints medians per command and the CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_name

CASES = {
    "fastbuild --help": ["--help"],
    "build --help": ["build", "--help"],
    "predict --help": ["predict", "--help"],
    "prepare --help": ["prepare", "--help"],
    "validate --help": ["validate", "--help"],
    "build --batch-rows 1 (error)": ["build", "--batch-rows", "1", "--output-dir", "/nonexistent/x"],
    "predict --threads -1 (error)": ["predict", "--model", "m", "--scores", "/nonexistent/s", "--threads", "-1"],
}


def _once(argv: list[str], checkout: Path | None) -> float:
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = f"{checkout}{os.pathsep}{env.get('PYTHONPATH', '')}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fastbuild", *argv], env=env, capture_output=True, timeout=120,
                   cwd=checkout or Path.cwd())
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, help="another fastbuild checkout to time alongside this one")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    sides = {"this checkout": None, **({"before": args.before.resolve()} if args.before else {})}
    times = {(name, side): [] for name in CASES for side in sides}
    for _ in range(args.rounds):
        for name, cmd in CASES.items():
            for side, checkout in sides.items():
                times[name, side].append(_once(cmd, checkout))
    print(f"start-up, median of {args.rounds} rounds (s); {cpu_name()}")
    print(f"{'command':34s}" + "".join(f"{s:>16s}" for s in sides))
    for name in CASES:
        print(f"{name:34s}" + "".join(f"{statistics.median(times[name, s]):16.3f}" for s in sides))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
