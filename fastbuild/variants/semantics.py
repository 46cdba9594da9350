"""SpliceAI 1.3.1's variant rules, written from its documentation and black-box runs of its CLI.

Nothing here comes from SpliceAI's source (its licence forbids derivatives); every rule below was
stated by the README / paper or measured against ``spliceai`` 1.3.1 itself (the experiments and
the fixture are in ``benchmarks/spliceai_oracle``, the agreement in docs/variants.md):

* a variant is scored against every gene whose annotated span (1-based ``start..end``) holds its
  position (one entry per alternative allele and gene, alleles outermost);
* the model sees ``flank + D`` bases on each side of the variant's first base (``flank`` = 5,000
  for SpliceAI-10k), whatever the length of REF; bases outside the gene's span read as N;
  minus-strand genes are scored on the reverse complement and the scores flipped back, so
  delta positions are genomic offsets (positive: higher coordinate);
* the alternative sequence replaces REF by ALT; scores of a deletion get zeros for the deleted
  bases after the anchor (``len(ALT)`` bases kept, ``len(REF) - len(ALT)`` zero rows); the scores
  of an insertion's anchor and inserted bases are replaced by their maximum (one row);
* delta scores are ``max(alt - ref)`` (gains) and ``max(ref - alt)`` (losses) over the ``2D + 1``
  positions centred on the variant, the delta position the first position of that maximum;
* ``-M 1`` looks at one annotated site only: the exon boundary (any exon's first or last base,
  transcript ends included, acceptor or donor alike) closest to the variant, the lower
  coordinate on a tie (:func:`closest_boundary`); each of the four deltas is taken unmasked with
  its position, then a gain is zeroed when its position is that boundary and a loss when its
  position is not (the delta positions stay those of the unmasked deltas);
* REF and ALT both longer than one base: an entry with ``.`` fields; no entry (the record
  passes unannotated) within ``5000 + D`` bases of a contig end (:func:`near_contig_end`), for
  REF longer than ``2D + 1`` bases (deletions longer than ``2D``; checked before the ``.``
  rule), or when REF as written differs from the upper-cased genome (a lower-case REF never
  matches); insertions have no length limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DELETION_FACTOR", "END_MARGIN", "INFO_DESCRIPTION", "Gene", "align_alt", "closest_boundary",
           "delta_scores", "format_entry", "format_unscored", "mask_arrays", "near_contig_end", "window"]

#: REF longer than DELETION_FACTOR * D + 1 bases (deletions longer than 2D) is not scored.
DELETION_FACTOR = 2
#: Bases of context on each side that must lie on the contig (SpliceAI: half its 10-kb context).
END_MARGIN = 5000
INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 variant annotation. These include delta scores (DS) and delta positions (DP) for acceptor gain "
    "(AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). Format: "
    "ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
)
ACCEPTOR, DONOR = 1, 2  # channels of the model's output (0: neither)


@dataclass(frozen=True)
class Gene:
    """One annotated gene as the variant rules see it.

    Attributes
    ----------
    symbol : str
        The name written in the annotation (SYMBOL field).
    chrom : str
        Contig, as the FASTA names it.
    start, end : int
        1-based inclusive span (SpliceAI table: TX_START + 1 .. TX_END).
    strand : str
        ``'+'`` or ``'-'``.
    acceptors, donors : tuple of int
        Annotated splice sites (1-based), for ``-M 1``.
    """

    symbol: str
    chrom: str
    start: int
    end: int
    strand: str
    acceptors: tuple = ()
    donors: tuple = ()


def near_contig_end(pos: int, contig_length: int, distance: int, margin: int = END_MARGIN) -> bool:
    """True when SpliceAI leaves a variant at ``pos`` unscored for being near a contig end."""
    return pos <= margin + distance or pos > contig_length - margin - distance


def window(pos: int, distance: int, flank: int) -> tuple[int, int]:
    """1-based inclusive genomic interval of the model's input around a variant at ``pos`` (any REF length)."""
    return pos - distance - flank, pos + distance + flank


def align_alt(y_alt: np.ndarray, ref_len: int, alt_len: int, distance: int) -> np.ndarray:
    """Scores of the alternative allele on the reference's ``2D + 1`` positions.

    Parameters
    ----------
    y_alt : ndarray [2D + 1 - ref_len + alt_len, 3]
        Scores of the alternative sequence (the reference window with REF replaced by ALT).
    ref_len, alt_len : int
    distance : int

    Returns
    -------
    ndarray [2D + 1, 3]
        Row ``i`` is genomic position ``pos - D + i``. Deletions: zero rows for the deleted
        bases (after the ``alt_len`` kept ones); insertions: the anchor and inserted rows
        replaced by their maximum.
    """
    d = distance
    if ref_len > alt_len:
        zeros = np.zeros((ref_len - alt_len, y_alt.shape[1]), dtype=y_alt.dtype)
        return np.concatenate([y_alt[: d + alt_len], zeros, y_alt[d + alt_len:]])
    if alt_len > ref_len:
        k = alt_len - ref_len + 1
        pooled = y_alt[d : d + k].max(axis=0, keepdims=True)
        return np.concatenate([y_alt[:d], pooled, y_alt[d + k:]])
    return y_alt


def mask_arrays(gene: Gene, pos: int, distance: int, ends: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Booleans over the ``2D + 1`` positions centred on ``pos``: annotated acceptor, annotated donor.

    With ``ends`` (what ``-M 1`` needs) the transcript ends too, which SpliceAI's mask counts as
    exon boundaries: the gene's first base with the sites on the exons' lower side (acceptors on
    the plus strand, donors on the minus strand), its last base with the others.
    """
    positions = np.arange(pos - distance, pos + distance + 1)
    lower, upper = (gene.acceptors, gene.donors) if gene.strand == "+" else (gene.donors, gene.acceptors)
    if ends:
        lower, upper = (*lower, gene.start), (*upper, gene.end)
    acc, don = (lower, upper) if gene.strand == "+" else (upper, lower)
    return np.isin(positions, acc), np.isin(positions, don)


def closest_boundary(acceptor: np.ndarray, donor: np.ndarray, distance: int) -> int | None:
    """Offset from the variant of the exon boundary SpliceAI's ``-M 1`` looks at, or None.

    The closest of all boundaries in the window (:func:`mask_arrays`), whatever their type, the
    lower coordinate on a tie. A boundary farther than ``distance`` can equal no delta position,
    so the window is all that matters.
    """
    sites = np.flatnonzero(np.asarray(acceptor) | np.asarray(donor))
    if not sites.size:
        return None
    return int(sites[np.argmin(np.abs(sites - distance))]) - distance  # argmin: first, i.e. lower, on ties


def delta_scores(y_ref: np.ndarray, y_alt: np.ndarray, distance: int, masks=None) -> tuple[list, list]:
    """DS_AG, DS_AL, DS_DG, DS_DL and their positions from aligned scores.

    Parameters
    ----------
    y_ref, y_alt : ndarray [2D + 1, 3]
        Reference scores and aligned alternative scores (:func:`align_alt`).
    distance : int
    masks : tuple of ndarray, optional
        ``(acceptor, donor)`` booleans of :func:`mask_arrays` (``-M 1``): a gain whose position
        is the :func:`closest_boundary` and a loss whose position is not become 0.

    Returns
    -------
    (list of float32, list of int)
    """
    ref, alt = y_ref, y_alt
    diffs = [alt[:, ACCEPTOR] - ref[:, ACCEPTOR], ref[:, ACCEPTOR] - alt[:, ACCEPTOR],
             alt[:, DONOR] - ref[:, DONOR], ref[:, DONOR] - alt[:, DONOR]]
    positions = [int(np.argmax(d)) - distance for d in diffs]  # before masking (measured on the oracle)
    scores = [d.max() for d in diffs]
    if masks is not None:
        site = closest_boundary(*masks, distance)
        zero = np.float32(0)  # masked values are +0.0 (SpliceAI never prints -0.00)
        scores = [zero if (p == site) == (i % 2 == 0) else s  # gains (even) at the site, losses elsewhere
                  for i, (s, p) in enumerate(zip(scores, positions, strict=True))]
    return scores, positions


def format_entry(allele: str, symbol: str, scores, positions) -> str:
    """``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` (scores to 2 decimals)."""
    return "|".join([allele, symbol, *(f"{float(s):.2f}" for s in scores), *(str(int(p)) for p in positions)])


def format_unscored(allele: str, symbol: str) -> str:
    """The entry SpliceAI writes for an allele pair it does not score (REF and ALT both longer than 1)."""
    return "|".join([allele, symbol] + ["."] * 8)
