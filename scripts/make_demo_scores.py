#!/usr/bin/env python
"""Score every demo gene with the OpenSpliceAI Arabidopsis 10000nt ensemble.

Writes the score store into ``fastbuild/demo_data/scores/`` (see fastbuild.basemodel.store).
Scores are rounded to 10 mantissa bits (float16 precision, float32 range: ~3 significant digits,
relative error <= 2^-11) and stored as float32 in zstd-compressed Parquet, which keeps the store
small enough to ship with the package.

    python scripts/make_demo_scores.py                      # models from ../shared/data
    python scripts/make_demo_scores.py --models DIR --overwrite

Bases past the ends of the 700-kb demo slice read as N, so scores within 5 kb of the slice end
differ from whole-chromosome scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_MODELS = REPO.parent / "shared" / "data" / "openspliceai_models" / "arabidopsis" / "10000nt"
DEMO = REPO / "fastbuild" / "demo_data"


def main(argv=None) -> int:
    """Score the demo genes into the demo store; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=str(DEFAULT_MODELS), help="folder of OpenSpliceAI model_*.pt files")
    p.add_argument("--fasta", default=str(DEMO / "demo.fa"))
    p.add_argument("--annotation", default=str(DEMO / "demo.gtf.gz"))
    p.add_argument("--out", default=str(DEMO / "scores"))
    p.add_argument("--mantissa-bits", type=int, default=10, help="float32 mantissa bits kept (23 = exact)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store (rescore everything)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)

    from fastbuild.annotation import load_annotation
    from fastbuild.basemodel import ScoreStore, load_openspliceai, score_genes
    from fastbuild.errors import FastbuildError
    from fastbuild.genome import Genome

    try:
        out = Path(args.out)
        if args.overwrite and (out / "store.json").exists():
            ScoreStore(out).clear()
        model = load_openspliceai(args.models)
        ann = load_annotation(args.annotation)
        t0 = time.perf_counter()
        with Genome(args.fasta) as genome:
            summary = score_genes(
                genome, ann.genes, model, out, progress=True, mantissa_bits=args.mantissa_bits, threads=args.threads
            )
    except FastbuildError as exc:
        print(f"make_demo_scores: error: {exc}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    summary["store_bytes"] = size
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
