"""A baseline that does fastbuild's job the way the reference builder does it.

Per gene: the strand-oriented sequence as a Python string; labels by Python loops over the
positions; TN downsampling with pandas; then, per kept row, its 500-nt ``sequence`` string,
k-mers counted with ``collections.Counter``, a dict per row, a pandas DataFrame per gene,
derived score features with pandas column arithmetic, and a Parquet file per batch via pandas.
It is written plainly on purpose: it is the yardstick, not a product.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import numpy as np
import pandas as pd

COMP = str.maketrans("ACGTacgtN", "TGCAtgcaN")


def gene_string(fasta_text: str, start: int, end: int, strand: str) -> str:
    seq = fasta_text[start - 1:end].upper()
    return seq.translate(COMP)[::-1] if strand == "-" else seq


def label(prob, sites, threshold=0.5, window=2):
    n = len(prob)
    verdict = {}
    site_set = set(sites)
    for s in sites:
        lo, hi = max(0, s - window), min(n, s + window + 1)
        verdict[s] = "TP" if max(prob[lo:hi]) >= threshold else "FN"
    out = []
    for p in range(n):
        if p in site_set:
            out.append(verdict[p])
        elif prob[p] >= threshold and not any(abs(p - s) <= window for s in sites):
            out.append("FP")
        else:
            out.append("TN")
    return out


def build_gene(seq: str, donor, acceptor, neither, donors, acceptors, k=3, seed=0):
    n = len(seq)
    d_lab = label(donor, donors)
    a_lab = label(acceptor, acceptors)
    rows = []
    for p in range(n):
        if p in donors:
            st, pt = "donor", d_lab[p]
        elif p in acceptors:
            st, pt = "acceptor", a_lab[p]
        else:
            st = "neither"
            pt = "FP" if "FP" in (d_lab[p], a_lab[p]) else "TN"
        rows.append({"position": p, "splice_type": st, "pred_type": pt, "donor_score": donor[p],
                     "acceptor_score": acceptor[p], "neither_score": neither[p]})
    df = pd.DataFrame(rows)
    # downsample TNs like the reference's downsample_tn (pandas, row-wise neighbourhood search)
    non_tn = df[df.pred_type != "TN"]
    tn = df[df.pred_type == "TN"]
    hard = tn[tn[["donor_score", "acceptor_score"]].max(axis=1) >= 0.15]
    sites = sorted(set(donors) | set(acceptors))
    near = tn[tn.position.apply(lambda p: any(abs(p - s) <= 75 for s in sites))]
    rest = tn.drop(hard.index.union(near.index))
    n_easy = min(len(rest), int(0.5 * len(non_tn)))
    easy = rest.sample(n=n_easy, random_state=seed) if n_easy else rest.iloc[:0]
    kept = pd.concat([non_tn, hard, near, easy]).drop_duplicates("position").sort_values("position")
    kmers = ["".join(x) for x in itertools.product("ACGT", repeat=k)]
    feats = []
    for p in kept.position:
        window = seq[max(p - 250, 0):min(p + 250, n)]
        c = Counter(window[i:i + k] for i in range(len(window) - k + 1))
        row = {f"{k}mer_{km}": c.get(km, 0) for km in kmers}
        gc = sum(window.count(b) for b in "GC") / max(1, len(window))
        freqs = [window.count(b) / max(1, len(window)) for b in "ACGT"]
        row.update({"sequence": window, "gc_content": gc, "sequence_length": len(window),
                    "sequence_complexity": -sum(f * math.log2(f) for f in freqs if f > 0)})
        feats.append(row)
    out = pd.concat([kept.reset_index(drop=True), pd.DataFrame(feats)], axis=1)
    eps = 1e-10
    d, a, nn = out.donor_score, out.acceptor_score, out.neither_score
    out["relative_donor_probability"] = d / (d + a + eps)
    out["splice_probability"] = (d + a) / (d + a + nn + eps)
    out["donor_acceptor_logodds"] = np.log(d + eps) - np.log(a + eps)
    out["probability_entropy"] = -(d * np.log(d + eps) + a * np.log(a + eps) + nn * np.log(nn + eps))
    return out.drop(columns=["sequence"])


def run(genes, fasta_text: str, scores: dict, sites: dict, out_path, k=3):
    """Build the baseline dataset for ``genes`` (dict rows) and write one Parquet file."""
    random.seed(0)
    frames = []
    for g in genes:
        seq = gene_string(fasta_text, g["start"], g["end"], g["strand"])
        sc = scores[g["gene_id"]]
        order = slice(None, None, -1) if g["strand"] == "-" else slice(None)
        donor, acceptor, neither = (list(sc[c][order]) for c in ("donor", "acceptor", "neither"))
        donors, acceptors = sites[g["gene_id"]]
        df = build_gene(seq, donor, acceptor, neither, set(donors), set(acceptors), k=k)
        df.insert(0, "gene_id", g["gene_id"])
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    table.to_parquet(out_path, compression="zstd")
    return len(table)
