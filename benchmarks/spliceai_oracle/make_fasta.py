"""Write a FASTA holding one contig at its real coordinates from a region FASTA (oracle harness).

The shared human slice ``hisat2_22_20-21M.fa`` holds GRCh37 chr22:20,000,001-21,000,000 under the
header ``>22:20000001-21000000``. SpliceAI's CLI looks variants up by contig name and position, so
it needs a contig ``22`` (or ``chr22``) whose base 20,000,001 is the slice's first base: this
script writes the slice N-padded from base 1 (``--name 22 --start 20000001``). fastbuild reads
the slice itself (region headers are understood), and reads this file the same way.

Usage::

    python benchmarks/spliceai_oracle/make_fasta.py ../shared/data/human_grch37/hisat2_22_20-21M.fa \
        /tmp/chr22_padded.fa --name 22
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

LINE = 60


def read_region(path: Path) -> tuple[str, int, str]:
    """The one record of a region FASTA: (contig, first base 1-based, sequence)."""
    header, seq = None, []
    with open(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if header is not None:
                    raise SystemExit(f"{path}: more than one record")
                header = line[1:].split()[0]
            else:
                seq.append(line.strip())
    m = re.fullmatch(r"(.+):(\d+)-(\d+)", header or "")
    if m is None:
        raise SystemExit(f"{path}: header {header!r} is not CONTIG:START-END")
    return m.group(1), int(m.group(2)), "".join(seq)


def write_padded(out: Path, name: str, start: int, seq: str) -> None:
    """``>name`` then ``start - 1`` N and the sequence, in lines of 60 bases."""
    full = "N" * (start - 1) + seq
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(f">{name}\n")
        for i in range(0, len(full), LINE):
            fh.write(full[i:i + LINE] + "\n")
    tmp.replace(out)


def main(argv=None) -> None:
    """Command line: region FASTA in, padded FASTA out."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("region_fasta", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--name", help="contig name to write (default: the header's contig)")
    args = p.parse_args(argv)
    contig, start, seq = read_region(args.region_fasta)
    write_padded(args.out, args.name or contig, start, seq)
    print(f"{args.out}: {args.name or contig} of {start - 1 + len(seq):,} bases")


if __name__ == "__main__":
    main()
