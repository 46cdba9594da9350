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
    # per-row 500-nt sequence strings, as in the reference's artifacts
    kept["sequence"] = [seq[max(p - 250, 0):min(p + 250, n)] for p in kept.position]
    kmers = ["".join(x) for x in itertools.product("ACGT", repeat=k)]

    def count_kmers(s):
        return Counter(s[i:i + k] for i in range(len(s) - k + 1) if "N" not in s[i:i + k])

    counts = pd.DataFrame(list(kept.sequence.apply(count_kmers))).reindex(columns=kmers).fillna(0).astype("int64")
    counts.columns = [f"{k}mer_{km}" for km in kmers]

    def composition(s):
        acgt = [s.count(b) for b in "ACGT"]
        total = max(1, sum(acgt))
        freqs = [c / total for c in acgt]
        return pd.Series({"gc_content": (acgt[1] + acgt[2]) / total, "sequence_length": len(s),
                          "sequence_complexity": -sum(f * math.log2(f) for f in freqs if f > 0)})

    comp = kept.sequence.apply(composition)
    out = pd.concat([kept.reset_index(drop=True), counts.reset_index(drop=True), comp.reset_index(drop=True)], axis=1)
    # score context: neighbours from the full per-position table, then the derived features
    eps = 1e-10
    full = df.set_index("position")
    for t in ("donor", "acceptor"):
        col = full[f"{t}_score"]
        for name, shift in (("m2", 2), ("m1", 1), ("p1", -1), ("p2", -2)):
            out[f"{t}_{name}"] = col.shift(shift).fillna(0.0).reindex(out.position).to_numpy()
    d, a, nn = out.donor_score, out.acceptor_score, out.neither_score
    out["relative_donor_probability"] = d / (d + a + eps)
    out["splice_probability"] = (d + a) / (d + a + nn + eps)
    out["donor_acceptor_diff"] = (d - a) / (np.maximum(d, a) + eps)
    out["splice_neither_diff"] = (np.maximum(d, a) - nn) / (np.maximum(np.maximum(d, a), nn) + eps)
    out["donor_acceptor_logodds"] = np.log(d + eps) - np.log(a + eps)
    out["splice_neither_logodds"] = np.log(d + a + eps) - np.log(nn + eps)
    out["probability_entropy"] = -(d * np.log(d + eps) + a * np.log(a + eps) + nn * np.log(nn + eps))
    for t, x in (("donor", d), ("acceptor", a)):
        m2, m1, p1, p2 = (out[f"{t}_{s}"] for s in ("m2", "m1", "p1", "p2"))
        mean = (m2 + m1 + p1 + p2) / 4
        cmax = np.maximum.reduce([m2, m1, p1, p2])
        out[f"{t}_context_mean"] = mean
        out[f"{t}_context_asymmetry"] = (m1 + m2) - (p1 + p2)
        out[f"{t}_context_max"] = cmax
        for s, v in (("m2", m2), ("m1", m1), ("p1", p1), ("p2", p2)):
            out[f"{t}_diff_{s}"] = x - v
        out[f"{t}_surge_ratio"] = x / (m1 + p1 + eps)
        out[f"{t}_is_local_peak"] = ((x > m1) & (x > p1) & (x > 1e-3)).astype(float)
        out[f"{t}_weighted_context"] = 0.1 * m2 + 0.2 * m1 + 0.4 * x + 0.2 * p1 + 0.1 * p2
        out[f"{t}_peak_height_ratio"] = x / (mean + eps)
        out[f"{t}_second_derivative"] = (x - m1) - (p1 - x)
        out[f"{t}_signal_strength"] = x - mean
        out[f"{t}_context_diff_ratio"] = x / (cmax + eps)
    out["donor_acceptor_peak_ratio"] = out.donor_peak_height_ratio / (out.acceptor_peak_height_ratio + eps)
    out["type_signal_difference"] = out.donor_signal_strength - out.acceptor_signal_strength
    out["score_difference_ratio"] = (d - a) / (d + a + eps)
    out["signal_strength_ratio"] = out.donor_signal_strength / (out.acceptor_signal_strength + eps)
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
