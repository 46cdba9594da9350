"""A small synthetic genome + annotation with planted GT..AG introns on both strands.

Layout of contig ``c`` (200 bp, 1-based):

* G1 (+): transcripts T1 (exons 11-30, 51-70, 91-110) and T2 (11-30, 91-110);
  donors 30, 70; acceptors 51, 91.
* G2 (-): T3 (exons 121-140, 161-180); donor 161, acceptor 140 (transcript orientation).
* G3 (+, 100-130): a gene line without transcripts, overlapping G1 and G2.
* G4 (+): T4 single exon 185-195; T5 exons 185-188, 189-195 (a zero-length intron).
"""

from __future__ import annotations

import numpy as np

LENGTH = 200
DONORS = {"G1": [30, 70], "G2": [161]}
ACCEPTORS = {"G1": [51, 91], "G2": [140]}


def genome_sequence() -> str:
    rng = np.random.default_rng(7)
    seq = list(rng.choice(list("ACGT"), LENGTH))
    # + strand introns 31-50 and 71-90: GT...AG
    for pos, base in {31: "G", 32: "T", 49: "A", 50: "G", 71: "G", 72: "T", 89: "A", 90: "G"}.items():
        seq[pos - 1] = base
    # - strand intron 141-160: transcript-orientation GT at 160,159 and AG at 142,141
    for pos, base in {160: "C", 159: "A", 142: "T", 141: "C"}.items():
        seq[pos - 1] = base
    return "".join(seq)


def write_fasta(path, name="c"):
    seq = genome_sequence()
    path.write_text(f">{name}\n" + "\n".join(seq[i:i + 60] for i in range(0, LENGTH, 60)) + "\n")
    return path


EXONS = [  # gene, transcript, strand, start, end
    ("G1", "T1", "+", 11, 30), ("G1", "T1", "+", 51, 70), ("G1", "T1", "+", 91, 110),
    ("G1", "T2", "+", 11, 30), ("G1", "T2", "+", 91, 110),
    ("G2", "T3", "-", 161, 180), ("G2", "T3", "-", 121, 140),
    ("G4", "T4", "+", 185, 195),
    ("G4", "T5", "+", 185, 188), ("G4", "T5", "+", 189, 195),
]
GENES = [("G1", "+", 11, 110, "protein_coding"), ("G2", "-", 121, 180, "lncRNA"),
         ("G3", "+", 100, 130, "protein_coding"), ("G4", "+", 185, 195, "protein_coding")]


def gtf_text(chrom="c") -> str:
    lines = ["#!comment line"]
    for gid, strand, s, e, gtype in GENES:
        attrs = f'gene_id "{gid}"; gene_name "N{gid}"; gene_biotype "{gtype}";'
        lines.append(f"{chrom}\tsrc\tgene\t{s}\t{e}\t.\t{strand}\t.\t{attrs}")
        for tid in sorted({t for g, t, *_ in EXONS if g == gid}):
            ex = [x for x in EXONS if x[1] == tid]
            ts, te = min(x[3] for x in ex), max(x[4] for x in ex)
            attrs = f'gene_id "{gid}"; transcript_id "{tid}";'
            lines.append(f"{chrom}\tsrc\ttranscript\t{ts}\t{te}\t.\t{strand}\t.\t{attrs}")
            for _, _, st, xs, xe in ex:
                lines.append(f'{chrom}\tsrc\texon\t{xs}\t{xe}\t.\t{st}\t.\tgene_id "{gid}"; transcript_id "{tid}";')
                lines.append(f'{chrom}\tsrc\tCDS\t{xs}\t{xe}\t.\t{st}\t0\tgene_id "{gid}"; transcript_id "{tid}";')
    return "\n".join(lines) + "\n"


def gff3_text(chrom="c") -> str:
    lines = ["##gff-version 3"]
    for gid, strand, s, e, gtype in GENES:
        lines.append(f"{chrom}\tsrc\tgene\t{s}\t{e}\t.\t{strand}\t.\tID=gene:{gid};Name=N{gid};biotype={gtype}")
        for tid in sorted({t for g, t, *_ in EXONS if g == gid}):
            ex = [x for x in EXONS if x[1] == tid]
            ts, te = min(x[3] for x in ex), max(x[4] for x in ex)
            lines.append(f"{chrom}\tsrc\tmRNA\t{ts}\t{te}\t.\t{strand}\t.\tID=transcript:{tid};Parent=gene:{gid}")
            for i, (_, _, st, xs, xe) in enumerate(ex):
                lines.append(f"{chrom}\tsrc\texon\t{xs}\t{xe}\t.\t{st}\t.\tParent=transcript:{tid};Name={tid}.{i}")
    return "\n".join(lines) + "\n"


def spliceai_table_text(chrom="c") -> str:
    lines = ["#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END"]
    for gid, tid in (("G1", "T1"), ("G2", "T3")):
        ex = sorted((x for x in EXONS if x[1] == tid), key=lambda x: x[3])
        strand = ex[0][2]
        starts = "".join(f"{x[3] - 1}," for x in ex)
        ends = "".join(f"{x[4]}," for x in ex)
        lines.append(f"{gid}\t{chrom}\t{strand}\t{ex[0][3] - 1}\t{ex[-1][4]}\t{starts}\t{ends}")
    return "\n".join(lines) + "\n"
