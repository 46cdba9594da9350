"""One gene -> column chunks: label every position cheaply, featurise only kept rows.

All arrays here are in transcript orientation (offset 0 = the gene's 5' end); genomic
positions come back through :func:`fastbuild.coords.to_genomic` only when columns are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from time import perf_counter

import numpy as np

import fastbuild_kernels as kernels
from fastbuild.builder.columns import Chunk
from fastbuild.builder.config import BuildConfig
from fastbuild.builder.schema import (
    LONG_CONTEXT_MAX,
    LONG_CONTEXT_WIDTHS,
    WEIGHT_COLUMN,
    kmer_names,
    long_context_names,
    sequence_code_names,
)
from fastbuild.builder.stats import GeneTally
from fastbuild.coords import to_genomic
from fastbuild.seeds import gene_seed
from fastbuild.tracks.features import track_features

_OFFSETS = np.arange(-2, 3)
STRATUM_EASY = kernels.STRATA.index("easy")


@dataclass
class TranscriptSites:
    """One transcript inside a gene: its span and sites as gene offsets."""

    transcript_id: str
    lo: int  # first gene offset of the transcript (transcript orientation)
    hi: int  # last gene offset, inclusive
    donors: np.ndarray
    acceptors: np.ndarray


@dataclass
class GeneInput:
    """Everything needed to make a gene's rows (arrays in transcript orientation)."""

    info: dict  # a row of the genes table
    codes: np.ndarray  # uint8
    donor: np.ndarray  # float32
    acceptor: np.ndarray
    neither: np.ndarray
    donors: np.ndarray  # unique annotated donor offsets (all transcripts)
    acceptors: np.ndarray
    transcripts: list  # of TranscriptSites (transcript mode only)
    flanked: np.ndarray | None = None  # codes with --sequence-flank bases more on each side (N past contig ends)
    tracks: dict | None = None  # --track name -> values over the gene +- tracks.features.PAD (transcript orientation)


def _label_and_sample(donor, acceptor, donors, acceptors, config: BuildConfig, seed: int):
    """Labels of every position, the indices kept, their sampling weights and every position's
    sampling stratum (codes of ``kernels.STRATA``; None in eval mode), on cheap per-position arrays.

    The weight of a kept row is 1 / its keep probability: ``n_easy / kept_easy`` of its gene (or
    transcript) for a sampled easy TN, 1 for every row of the strata kept whole (and in eval mode).
    """
    pred, splice = kernels.label_positions(donor, acceptor, donors, acceptors,
                                           config.threshold, config.consensus_window)
    n = donor.shape[0]
    if config.eval_mode:
        return pred, splice, np.arange(n, dtype=np.int64), np.ones(n, np.float32), None
    sites = np.concatenate([donors, acceptors])
    site_distance = kernels.nearest_site_distance(np.arange(n, dtype=np.int64), sites)
    max_prob = np.maximum(donor, acceptor)
    peaks = kernels.local_peaks(max_prob, config.peak_radius, config.peak_prob)
    keep, stratum = kernels.downsample_strata(pred, max_prob, site_distance, config.hard_prob, config.window,
                                              config.easy_ratio, seed, config.easy_floor, peaks)
    kept = np.flatnonzero(keep)
    easy = stratum[kept] == STRATUM_EASY
    n_easy_kept = int(easy.sum())
    weight = np.ones(kept.size, np.float32)
    if n_easy_kept:
        weight[easy] = np.float32(int((stratum == STRATUM_EASY).sum()) / n_easy_kept)
    return pred, splice, kept, weight, stratum


def gene_chunks(g: GeneInput, config: BuildConfig, tally: GeneTally):
    """Yield :class:`Chunk` objects (each <= ``config.batch_rows`` rows) of a gene's kept rows.

    Adds the seconds spent labelling and featurising to ``tally.seconds`` (not the time the
    consumer spends between chunks).
    """
    gid = g.info["gene_id"]
    n = g.codes.shape[0]
    pred_donor = np.flatnonzero(g.donor >= config.threshold)
    pred_acceptor = np.flatnonzero(g.acceptor >= config.threshold)
    if config.transcript_mode:
        units = [(t.transcript_id, t.lo, t.hi, t.donors - t.lo, t.acceptors - t.lo) for t in g.transcripts]
    else:
        units = [(None, 0, n - 1, g.donors, g.acceptors)]
    for tid, lo, hi, donors, acceptors in units:
        keys = (gid,) if tid is None else (gid, tid)
        t0 = perf_counter()
        seed = gene_seed(config.selection.seed, *keys)
        sl = slice(lo, hi + 1)
        pred, splice, kept_local, weight, stratum = _label_and_sample(g.donor[sl], g.acceptor[sl], donors,
                                                                      acceptors, config, seed)
        tally.positions += hi - lo + 1
        tally.rows += kept_local.size
        np.add.at(tally.counts, (pred[kept_local], splice[kept_local]), 1)
        tally.add_scores(pred[kept_local], (g.donor[sl][kept_local], g.acceptor[sl][kept_local]))
        if stratum is not None:
            tally.add_strata(kernels.STRATA, stratum, kept_local)
        tally.seconds["label"] += perf_counter() - t0
        for s in range(0, kept_local.size, config.batch_rows):
            t0 = perf_counter()
            local = kept_local[s:s + config.batch_rows]
            chunk = _featurise(g, config, tid, lo, hi, local, pred[local], splice[local],
                               donors + lo, acceptors + lo, pred_donor, pred_acceptor)
            chunk.arrays[WEIGHT_COLUMN] = weight[s:s + config.batch_rows]
            tally.seconds["featurise"] += perf_counter() - t0
            yield chunk


def _context(g: GeneInput, kept: np.ndarray) -> np.ndarray:
    """Score-context features of kept rows only: float32 ``(len(CONTEXT_FEATURES), m)``.

    A feature at a position depends only on the scores at it and its +-2 neighbours (0 past the
    gene ends: :func:`fastbuild_kernels.context_features`), so two exact ways give the same
    values: the kernel over the whole gene, then the kept positions taken out; or over a
    5-position neighbourhood of each kept row, zero-padded past the gene ends, its middle element
    taken. The first does ``n`` positions of kernel work, the second ``5 m`` plus the gathering of
    the neighbourhoods: the gene-wide pass is taken when the kept rows are more than a fifth of
    the gene (the default sampling keeps ~40% of the positions: 2x less kernel work).
    """
    if kept.size * _OFFSETS.size > g.donor.shape[0]:
        return _context_gene_wide(g.donor, g.acceptor, g.neither, kept)
    return _context_patches(g.donor, g.acceptor, g.neither, kept)


def _context_gene_wide(donor, acceptor, neither, kept: np.ndarray) -> np.ndarray:
    return kernels.context_matrix(donor, acceptor, neither, at=kept)


def _context_patches(donor, acceptor, neither, kept: np.ndarray) -> np.ndarray:
    n = donor.shape[0]
    idx = kept[:, None] + _OFFSETS[None, :]
    valid = (idx >= 0) & (idx < n)
    idx = np.clip(idx, 0, max(n - 1, 0))
    patches = [np.where(valid, arr[idx], np.float32(0)).ravel() for arr in (donor, acceptor, neither)]
    # each patch's middle element sees exactly the gene's neighbours (0 past the gene ends)
    return kernels.context_matrix(*patches, at=np.arange(2, 5 * kept.size, 5))


def _featurise(g, config, tid, lo, hi, local, pred, splice, donors, acceptors,
               pred_donor, pred_acceptor) -> Chunk:
    info = g.info
    kept = local + lo  # gene offsets
    m = kept.size
    n = g.codes.shape[0]
    left, right = config.context_flank
    position = to_genomic(kept, info["start"], info["end"], info["strand"])
    length = hi - lo + 1
    donor, acceptor = g.donor[kept], g.acceptor[kept]

    arrays = {
        "position": position,
        "rel_position": local.astype(np.int64),
        "splice_type": splice,
        "pred_type": pred,
        "y": splice.astype(np.int8),
        "true_position": position,
        "predicted_position": position,
        "distance_to_donor": kernels.nearest_site_distance(kept, donors),
        "distance_to_acceptor": kernels.nearest_site_distance(kept, acceptors),
        "donor_score": donor,
        "acceptor_score": acceptor,
        "neither_score": g.neither[kept],
        "gc_content": kernels.gc_content(g.codes, kept, left, right),
        "sequence_complexity": kernels.sequence_complexity(g.codes, kept, left, right),
        "sequence_length": (np.minimum(n, kept + right + 1) - np.maximum(0, kept - left)).astype(np.int32),
        "relative_position": (local / max(length - 1, 1)).astype(np.float32),
        "distance_to_predicted_donor": kernels.nearest_site_distance(kept, pred_donor),
        "distance_to_predicted_acceptor": kernels.nearest_site_distance(kept, pred_acceptor),
    }
    blocks = {_CONTEXT_NAMES: _context(g, kept), _LONG_CONTEXT_NAMES: _long_context(g, kept)}
    arrays.update(_sequence_codes(g, config, kept))
    masks = {"true_position": splice == 0,
             "predicted_position": np.maximum(donor, acceptor) < config.threshold}
    for name in _DISTANCES:
        masks[name] = arrays[name] < 0
    _add_tracks(g, kept, arrays, masks)
    consts = {"gene_id": info["gene_id"], "transcript_id": tid, "chrom": info["chrom"],
              "strand": info["strand"], "gene_type": info["gene_type"], "split": info.get("split"),
              "gene_cluster": info.get("gene_cluster", info["gene_id"]),
              "base_model_training_chrom": info.get("base_model_training_chrom"),
              **{name: info[name] for name in _GENE_NUMBERS}}
    sparse = {}
    for k in config.kmer_sizes:
        if config.layout_of(k) == "wide":
            blocks[_kmer_names(k)] = kernels.kmer_counts(g.codes, k, kept, left, right)  # (4**k, m)
        else:
            sparse[f"{k}mer"] = kernels.kmer_counts_sparse(g.codes, k, kept, left, right)
    return Chunk(m, arrays, masks, consts, sparse, blocks)


def _add_tracks(g: GeneInput, kept: np.ndarray, arrays: dict, masks: dict) -> None:
    """The --track columns of kept rows (value and windowed means; null where the track has no data)."""
    if g.tracks:
        for part, values in zip((arrays, masks), track_features(g.tracks, kept), strict=True):
            part.update(values)


_GENE_NUMBERS = ("gene_length", "n_transcripts", "n_splice_sites", "splice_density_per_kb", "num_overlaps")
_DISTANCES = ("distance_to_donor", "distance_to_acceptor", "distance_to_predicted_donor",
              "distance_to_predicted_acceptor")


def _long_context(g: GeneInput, kept: np.ndarray) -> np.ndarray:
    """Long-range score context of kept rows: sums over offsets 3..W and maxima over 3..50, each side.

    Offsets past the gene ends count as 0 (like the short score context). Upstream = lower
    offsets in transcript orientation. One call of :func:`fastbuild_kernels.long_context` (sums
    as float32 differences of a float64 cumulative sum over the gene) makes every column: a
    float32 ``(len(long_context_names()), m)`` array, rows in that order.
    """
    return kernels.long_context(np.stack([g.donor, g.acceptor]), kept, LONG_CONTEXT_WIDTHS, LONG_CONTEXT_MAX)


def _sequence_codes(g: GeneInput, config: BuildConfig, kept: np.ndarray) -> dict:
    """Local sequence codes nt_u{F}..nt_d{F} of kept rows (from the flanked gene sequence)."""
    flank = config.sequence_flank
    if flank <= 0:
        return {}
    names = sequence_code_names(flank)
    return {name: g.flanked[kept + i] for i, name in enumerate(names)}


@cache
def _kmer_names(k: int) -> tuple[str, ...]:
    return tuple(f"{k}mer_{km}" for km in kmer_names(k))


_CONTEXT_NAMES = tuple(kernels.CONTEXT_FEATURES)
_LONG_CONTEXT_NAMES = tuple(long_context_names())
