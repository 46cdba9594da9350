"""Do the base model's calls in pseudogenes look like real exons? Reading frames at called sites.

A diagnostic for the meta-model goal on pseudogene-rich held-out regions (docs/metamodel.md):
most base-model false positives there sit in pseudogenes whose annotation lists no intron. If
those sites were degenerate copies (frameshifts, premature stops), sequence features could learn
to reject them. This script measures it on an evaluation build (``fastbuild build --eval-mode``):
for every called site (TP or FP row), in transcript orientation, the longest stop-free run of
codons (in any of the three frames) from the site into its exon (upstream of a donor, downstream
of an acceptor), capped at ``--flank``; then the distribution of that length per site type,
label and gene type.

    fastbuild build --reference REF --fasta FA --scores SCORES --eval-mode \\
        --subset-policy custom --gene-ids-file HELD_OUT_IDS --output-dir EVAL
    python benchmarks/bench_pseudogene_sites.py EVAL --fasta FA

Needs no extra beyond the core install.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

from fastbuild.builder.output import master_files
from fastbuild.genome import Genome

_STOPS = {(3, 0, 0), (3, 0, 2), (3, 2, 0)}  # TAA TAG TGA as codes (A=0 C=1 G=2 T=3)


def stop_free_run(seq: np.ndarray, first: int, step: int) -> int:
    """Bases of whole codons from index ``first`` (a codon's start), moving ``step`` (+3 / -3)
    codon by codon, before the first stop codon or N."""
    n, i = 0, first
    while 0 <= i and i + 3 <= seq.shape[0]:
        codon = tuple(int(c) for c in seq[i:i + 3])
        if codon in _STOPS or 4 in codon:
            break
        n += 3
        i += step
    return n


def exon_orf(seq: np.ndarray, site: int, donor: bool) -> int:
    """Longest stop-free codon run, over the three frames, from the site base into its exon."""
    if donor:  # the exon ends at the site: codons ending at site, site-1, site-2
        return max(stop_free_run(seq, site - 2 - f, -3) for f in range(3))
    return max(stop_free_run(seq, site + f, 3) for f in range(3))


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", type=Path, help="a finished evaluation build (every position kept)")
    p.add_argument("--fasta", required=True, help="the genome FASTA the build used")
    p.add_argument("--flank", type=int, default=600, help="bases read on each side of a site (the cap)")
    return p


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    cols = ["gene_type", "chrom", "strand", "position", "pred_type", "donor_score", "acceptor_score"]
    df = pl.concat([pl.read_parquet(f, columns=cols) for f in master_files(args.dataset)])
    df = df.with_columns(pl.col("gene_type").cast(pl.Utf8), pl.col("pred_type").cast(pl.Utf8))
    df = df.filter(pl.col("pred_type").is_in(["TP", "FP"]))
    flank, runs, kinds = args.flank, [], []
    with Genome(args.fasta) as genome:
        for r in df.iter_rows(named=True):
            donor = r["donor_score"] >= r["acceptor_score"]
            seq = genome.fetch(r["chrom"], r["position"] - flank, r["position"] + flank, r["strand"])
            runs.append(exon_orf(seq, flank, donor))
            kinds.append("donor" if donor else "acceptor")
    df = df.with_columns(pl.Series("site", kinds), pl.Series("orf", runs),
                         pl.when(pl.col("gene_type").str.contains("pseudogene")).then(pl.lit("pseudogenes"))
                         .otherwise(pl.col("gene_type")).alias("genes"))
    table = (df.group_by("site", "genes", "pred_type")
             .agg(pl.len().alias("sites"), pl.col("orf").median().alias("median_nt"),
                  (pl.col("orf") < 60).mean().alias("under_60nt"), (pl.col("orf") < 120).mean().alias("under_120nt"))
             .filter(pl.col("sites") >= 20).sort("site", "genes", "pred_type"))
    print(f"{args.dataset}: called sites (TP and FP rows), stop-free codon run into the exon, capped at {flank} nt")
    print("| site | genes | label | sites | median nt | under 60 nt | under 120 nt |")
    print("|---|---|---|---|---|---|---|")
    for r in table.iter_rows(named=True):
        print(f"| {r['site']} | {r['genes']} | {r['pred_type']} | {r['sites']:,} | {r['median_nt']:.0f} | "
              f"{r['under_60nt']:.1%} | {r['under_120nt']:.1%} |")


if __name__ == "__main__":
    main()
