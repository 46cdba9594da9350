"""The build's score-context and sequence features on both alleles, for ``fastbuild variants --rows``.

Each scored (record, alternative allele, gene) gives the ``2D + 1`` rows ``pos - D .. pos + D``
(genomic order). :class:`RowFeatures` adds to them, once on the reference (``ref_``) and once on
the alternative allele (``alt_``), what a build computes for a position, computed the build's way
in the gene's transcript orientation (minus-strand genes: reversed scores, reverse-complemented
sequence; "up" is 5'):

* **short score context** (``{a}_ctx_*``): :func:`fastbuild_kernels.context_features` of the
  position's 5-position neighbourhood, as the build's ``_context``. The scores are those of the
  rows: the reference scores and the alternative scores aligned as SpliceAI aligns them (zeros
  at a deletion's deleted bases, the pooled maximum at an insertion's anchor). **Window**: the
  ``2D + 1`` scored positions only; a neighbour outside them counts as 0 (the build counts 0
  past the gene ends), so the two rows at each end of the window see fewer neighbours than a
  build would give them. Positions outside the gene's span keep the scores the model gave them
  on the N-padded sequence (a build has no rows there).
* **long score context** (``{a}_{donor,acceptor}_*``): :func:`fastbuild_kernels.long_context`
  over the same scored window, offsets past it counting as 0: ``sum_up30`` / ``sum_down30``
  (offsets 3..30, as the build's), ``max_up50`` / ``max_down50`` (offsets 3..50, as the
  build's; with ``D < 50`` part of that lies past the window), and ``sum_up_window`` /
  ``sum_down_window`` (offsets 3 to the window's end: all the window holds on that side). The
  build's sums up to 100..3000 bases are not written: the variant path scores ``2D + 1``
  positions per allele, not the gene, so they would only repeat the window's sums under a
  wider name.
* **sequence** (``{a}_{k}mer_*``, ``{a}_gc_content``, ``{a}_sequence_complexity``): k-mer
  counts (``--rows-kmer-sizes``, default the build's ``--kmer-sizes`` 3, one uint16 column per
  k-mer) and base composition in the window of ``UP`` bases upstream and ``DOWN`` downstream
  (``--rows-context-flank``, default the build's ``--context-flank`` 250 249), by the build's
  kernels. Bases outside the gene's span read as N, as the model reads them (SpliceAI's rule);
  N is left out of k-mers and composition, so for the reference this equals the build's window
  clipped at the gene ends.

The alternative sequence is the reference with REF replaced by ALT (what the model scored). A
row at genomic position ``p`` sees it around: ``p`` itself for ``p < pos + min(len(REF),
len(ALT))`` (before the variant and the bases ALT replaces one for one: the anchor of an indel,
the base of an SNV); ``p + len(ALT) - len(REF)`` for ``p >= pos + len(REF)`` (after the variant:
shifted by the length change); and, for a base REF deletes (``pos + len(ALT) <= p < pos +
len(REF)``), the junction: the last base ALT keeps, ``pos + len(ALT) - 1``. An insertion's
inserted bases have no row of their own (the anchor's row holds the pooled scores); they lie in
the windows of the rows around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

import fastbuild_kernels as kernels
from fastbuild.builder.schema import LONG_CONTEXT_MAX, kmer_names
from fastbuild.variants.annotate import padded_codes
from fastbuild.variants.config import ROWS_CONTEXT_FLANK, ROWS_KMER_SIZES

__all__ = ["LONG_SUM_WIDTH", "RowFeatures", "alt_index", "long_names", "score_features"]

ALLELES = ("ref", "alt")
#: Width of the long-range sums a variant's window holds for most D (the build's first width).
LONG_SUM_WIDTH = 30
_WINDOW = 1 << 30  # a sum width past any window: "to the window's end"


def long_names() -> list[str]:
    """Long-context columns per allele, without the allele prefix, in the kernel's row order."""
    names = []
    for t in ("donor", "acceptor"):
        names += [f"{t}_sum_up{LONG_SUM_WIDTH}", f"{t}_sum_down{LONG_SUM_WIDTH}", f"{t}_sum_up_window",
                  f"{t}_sum_down_window", f"{t}_max_up{LONG_CONTEXT_MAX}", f"{t}_max_down{LONG_CONTEXT_MAX}"]
    return names


_LONG_DOCS = [f"probability summed over offsets 3..{LONG_SUM_WIDTH} upstream (5', transcript orientation)",
              f"probability summed over offsets 3..{LONG_SUM_WIDTH} downstream",
              "probability summed over offsets 3 to the window's upstream end (all the 2D + 1 scored rows hold)",
              "probability summed over offsets 3 to the window's downstream end",
              f"maximum probability over offsets 3..{LONG_CONTEXT_MAX} upstream",
              f"maximum probability over offsets 3..{LONG_CONTEXT_MAX} downstream"]


def alt_index(positions: np.ndarray, pos: int, ref_len: int, alt_len: int) -> np.ndarray:
    """Genomic positions of rows -> where each sees the alternative sequence (the module docstring's rule).

    Returned as reference coordinates of the alternative sequence (``pos`` + its offset into it), so
    that subtracting the sequence's first genomic position gives an index into it.
    """
    out = np.asarray(positions, dtype=np.int64).copy()
    after = out >= pos + ref_len
    deleted = (out >= pos + alt_len) & ~after
    out[after] += alt_len - ref_len
    out[deleted] = pos + alt_len - 1
    return out


@dataclass(frozen=True)
class RowFeatures:
    """Which sequence features the rows get: k-mer sizes and the window (UP, DOWN) around each row."""

    kmer_sizes: tuple = ROWS_KMER_SIZES
    context_flank: tuple = ROWS_CONTEXT_FLANK

    def columns(self) -> list[tuple]:
        """``(name, type, role, doc)`` of every feature column, ref then alt, in schema order."""
        return [c for allele in ALLELES for c in _allele_columns(allele, tuple(self.kmer_sizes))]

    def block(self, genome, gene, pos: int, ref: str, alt: str, distance: int, y_ref, y_alt) -> dict:
        """Every feature column of one (record, allele, gene): ``2D + 1`` values each, genomic order."""
        cols = {}
        for allele, y in zip(ALLELES, (y_ref, y_alt), strict=True):
            cols.update(score_features(allele, y, gene.strand, distance))
        cols.update(self._sequence(genome, gene, pos, ref, alt, distance))
        return cols

    def _sequence(self, genome, gene, pos: int, ref: str, alt: str, distance: int) -> dict:
        """k-mers and composition of both alleles (module docstring), transcript orientation."""
        up, down = self.context_flank
        lo, hi = pos - distance - max(up, down), pos + distance + max(up, down) + len(ref)
        ref_codes = padded_codes(genome, gene, lo, hi)
        at = pos - lo
        alt_codes = np.concatenate([ref_codes[:at], kernels.encode(alt), ref_codes[at + len(ref):]])
        rows = np.arange(pos - distance, pos + distance + 1, dtype=np.int64)
        cols = {}
        for allele, codes, where in (("ref", ref_codes, rows),
                                     ("alt", alt_codes, alt_index(rows, pos, len(ref), len(alt)))):
            index = where - lo
            if gene.strand == "-":
                codes, index = kernels.reverse_complement(codes), codes.size - 1 - index
            cols.update(_composition(allele, codes, index, up, down, self.kmer_sizes))
        return cols


def score_features(allele: str, y: np.ndarray, strand: str, distance: int) -> dict:
    """Short and long score context of one allele's ``[2D + 1, 3]`` scores (neither, acceptor, donor)."""
    y = np.asarray(y, dtype=np.float32)
    if strand == "-":
        y = y[::-1]
    neither, acceptor, donor = (np.ascontiguousarray(y[:, c]) for c in range(3))
    cols = {f"{allele}_ctx_{name}": values for name, values in kernels.context_features(donor, acceptor,
                                                                                          neither).items()}
    rows = kernels.long_context(np.stack([donor, acceptor]), np.arange(y.shape[0]), (LONG_SUM_WIDTH, _WINDOW),
                                LONG_CONTEXT_MAX)
    cols.update((f"{allele}_{name}", values) for name, values in zip(long_names(), rows, strict=True))
    if strand == "-":
        cols = {name: values[::-1] for name, values in cols.items()}
    return cols


def _composition(allele: str, codes: np.ndarray, index: np.ndarray, up: int, down: int, kmer_sizes) -> dict:
    cols = {f"{allele}_gc_content": kernels.gc_content(codes, index, up, down),
            f"{allele}_sequence_complexity": kernels.sequence_complexity(codes, index, up, down)}
    for k in kmer_sizes:
        counts = kernels.kmer_counts(codes, k, index, up, down)
        cols.update(zip(_kmer_columns(allele, k), counts, strict=True))
    return cols


@cache
def _kmer_columns(allele: str, k: int) -> list[str]:
    return [f"{allele}_{k}mer_{km}" for km in kmer_names(k)]


@cache
def _allele_columns(allele: str, kmer_sizes: tuple) -> list[tuple]:
    what = "reference" if allele == "ref" else "alternative"
    scores = "the reference scores" if allele == "ref" else "the aligned alternative scores"
    cols = [(f"{allele}_ctx_{name}", pa.float32(), "feature",
             f"score context (kernels.context_features, transcript orientation) of {scores} over the 2D + 1 "
             "scored positions (0 outside them)") for name in kernels.CONTEXT_FEATURES]
    cols += [(f"{allele}_{name}", pa.float32(), "feature",
              f"{doc}, of {scores}; 0 outside the 2D + 1 scored positions")
             for name, doc in zip(long_names(), _LONG_DOCS * 2, strict=True)]
    cols += [(f"{allele}_gc_content", pa.float32(), "feature",
              f"(G+C)/(A+C+G+T) of the {what} sequence in the row's --rows-context-flank window (N excluded; "
              "N outside the gene's span)"),
             (f"{allele}_sequence_complexity", pa.float32(), "feature",
              f"Shannon entropy (bits) of the base frequencies of the {what} sequence in the window")]
    for k in kmer_sizes:
        cols += [(name, pa.uint16(), "feature", f"count of {km} in the {what} sequence's window (transcript "
                                                "orientation)")
                 for name, km in zip(_kmer_columns(allele, k), kmer_names(k), strict=True)]
    return cols
