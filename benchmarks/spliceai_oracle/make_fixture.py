"""Make the oracle fixture: seeded random variants on the human chr22 slice, scored by SpliceAI's own CLI.

Writes, for each setting (``-D`` 50 / 500, ``-M`` 0 / 1), ``oracle_D{D}_M{M}.in.vcf`` (the
variants) and ``oracle_D{D}_M{M}.out.vcf`` (SpliceAI 1.3.1's output) into ``--out`` (default
``tests/data/variants``). The variants are SNVs, deletions and insertions of 1-10 bases,
MNVs (which SpliceAI leaves unscored, ``.`` fields), multi-allelic records, a few with a REF
that disagrees with the genome, drawn near annotated splice sites, anywhere in genes, near gene
ends (where SpliceAI reads the sequence outside the transcript as N) and outside genes.

The oracle runs from its own virtual environment (``--venv``, default ``/tmp/spliceai_venv``,
made as README.md beside this file says) with this folder on ``PYTHONPATH`` (the tf_keras and
numpy 2 shims). It needs a FASTA whose contig ``22`` holds the slice at its real coordinates:
:mod:`make_fasta` writes it (``--fasta``, made when missing).

Usage::

    python benchmarks/spliceai_oracle/make_fixture.py --n 90 --seed 7
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "data"
SLICE = SHARED / "human_grch37" / "hisat2_22_20-21M.fa"
TABLE = SHARED / "human_grch37" / "grch37.txt"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=22,length=21000000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
SETTINGS = ((50, 0), (50, 1), (500, 0), (500, 1))

sys.path.insert(0, str(HERE))
from make_fasta import read_region, write_padded  # noqa: E402


def slice_genes(first: int, last: int) -> list[dict]:
    """Genes of the grch37 table on contig 22 that lie inside first..last (1-based)."""
    genes = []
    for line in open(TABLE):
        f = line.rstrip("\n").split("\t")
        if line.startswith("#") or f[1] != "22":
            continue
        start, end = int(f[3]) + 1, int(f[4])
        if first + 6000 <= start and end <= last - 6000:
            sites = [int(x) + 1 for x in f[5].strip(",").split(",")] + [int(x) for x in f[6].strip(",").split(",")]
            genes.append({"name": f[0], "start": start, "end": end, "sites": sorted(sites)})
    return genes


def _position(rng, genes: list[dict]) -> int:
    g = genes[rng.integers(len(genes))]
    kind = rng.random()
    if kind < 0.5:
        return int(rng.choice(g["sites"]) + rng.integers(-30, 31))
    if kind < 0.72:
        return int(rng.integers(g["start"], g["end"] + 1))
    if kind < 0.95:
        edge = g["start"] if rng.random() < 0.5 else g["end"]
        return int(edge + rng.integers(-60, 61) + (rng.integers(-5100, 5101) if rng.random() < 0.3 else 0))
    return int(g["end"] + rng.integers(1000, 30000))


def _alleles(rng, seq: str, first: int, pos: int) -> tuple[str, str] | None:
    at = pos - first
    ref1 = seq[at]
    if "N" in seq[at:at + 12].upper():
        return None
    other = [b for b in "ACGT" if b != ref1.upper()]
    kind = rng.random()
    if kind < 0.45:
        return ref1, str(rng.choice(other))
    if kind < 0.67:
        n = int(rng.integers(1, 11))
        return seq[at:at + n + 1], ref1
    if kind < 0.89:
        n = int(rng.integers(1, 11))
        return ref1, ref1 + "".join(rng.choice(list("ACGT"), n))
    if kind < 0.93:
        return seq[at:at + 2], "".join(rng.choice(other, 2))
    if kind < 0.98:
        return ref1, ",".join(str(a) for a in rng.choice(other, 2, replace=False))
    return str(rng.choice(other)), ref1  # REF disagrees with the genome


def make_records(n: int, seed: int) -> list[tuple[int, str, str]]:
    """``n`` distinct (pos, ref, alt) records, sorted by position."""
    _, first, seq = read_region(SLICE)
    genes = slice_genes(first, first + len(seq) - 1)
    rng = np.random.default_rng(seed)
    out = set()
    while len(out) < n:
        pos = _position(rng, genes)
        alleles = _alleles(rng, seq, first, pos) if first <= pos < first + len(seq) - 12 else None
        if alleles is not None:
            out.add((pos, *alleles))
    return sorted(out)


def run_oracle(venv: Path, fasta: Path, vin: Path, vout: Path, distance: int, mask: int) -> None:
    """SpliceAI's CLI on one VCF (annotation grch37), the shims of this folder on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(HERE), "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [str(venv / "bin" / "spliceai"), "-I", str(vin), "-O", str(vout), "-R", str(fasta), "-A", "grch37",
           "-D", str(distance), "-M", str(mask)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv=None) -> None:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=90, help="records per setting")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "variants")
    p.add_argument("--venv", type=Path, default=Path("/tmp/spliceai_venv"))
    p.add_argument("--fasta", type=Path, default=Path("/tmp/spliceai_oracle_chr22.fa"))
    p.add_argument("--settings", nargs="+", default=[f"{d}:{m}" for d, m in SETTINGS])
    args = p.parse_args(argv)
    if not args.fasta.exists():
        _, first, seq = read_region(SLICE)
        write_padded(args.fasta, "22", first, seq)
    args.out.mkdir(parents=True, exist_ok=True)
    for k, setting in enumerate(args.settings):
        distance, mask = (int(x) for x in setting.split(":"))
        stem = args.out / f"oracle_D{distance}_M{mask}"
        records = make_records(args.n, args.seed + k)
        vin = stem.with_suffix(".in.vcf")
        vin.write_text(HEADER + "".join(f"22\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in records))
        run_oracle(args.venv, args.fasta, vin, stem.with_suffix(".out.vcf"), distance, mask)
        print(f"{stem}: {len(records)} records")


if __name__ == "__main__":
    main()
