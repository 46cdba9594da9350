"""Score a batch of VCF records the way SpliceAI 1.3.1 does, with shared work.

:func:`annotate_records` takes the records of one work unit and returns, per record, its INFO
entries (``ALLELE|SYMBOL|DS_AG|...``), the reasons of the alleles it could not score and, for
``--rows``, the aligned scores. The rules are :mod:`fastbuild.variants.semantics`; what this
module adds is speed without changing a number:

* every sequence of the batch goes to the engine in one call (``score_many``: whole sequences
  per worker thread);
* reference scores are computed once per gene and cluster of nearby variants (a base's score
  depends only on the bases within the model's flank, and the gene's N padding is the same for
  every variant of the gene), then sliced for each variant, allele and gene;
* alternative sequences that are identical for two genes (same strand, both spans covering the
  whole window) are scored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import fastbuild_kernels as kernels
from fastbuild.contigs import canonical
from fastbuild.variants import semantics
from fastbuild.variants.semantics import Gene
from fastbuild.variants.vcf import Record, allele_kind

__all__ = ["Context", "GeneIndex", "RecordResult", "annotate_records"]

N_CODE = 4


class GeneIndex:
    """Genes of one contig, for finding those whose span holds a position."""

    def __init__(self, genes: list[Gene]):
        self.genes = genes
        self.starts = np.array([g.start for g in genes], dtype=np.int64)
        self.ends = np.array([g.end for g in genes], dtype=np.int64)

    def at(self, pos: int) -> list[Gene]:
        """Genes holding ``pos``, in annotation order."""
        hits = np.nonzero((self.starts <= pos) & (self.ends >= pos))[0]
        return [self.genes[i] for i in hits]


@dataclass
class Context:
    """What a unit scores with: genome, genes per FASTA contig, the runner and the rules' parameters."""

    genome: object
    genes: dict  # FASTA contig -> GeneIndex
    runner: object
    flank: int
    distance: int
    mask: int
    aliases: dict = field(default_factory=dict)
    _contig: dict = field(default_factory=dict)

    def contig(self, name: str) -> str | None:
        """The FASTA contig of a VCF contig name (``chr1`` and ``1`` match, as in prepare), or None."""
        if name not in self._contig:
            contigs = self.genome.contigs
            found = name if name in contigs else self.aliases.get(name)
            if found not in contigs:
                by_canonical = {canonical(c): c for c in contigs}
                found = by_canonical.get(canonical(name))
            self._contig[name] = found
        return self._contig[name]


@dataclass
class RecordResult:
    """What one record got: INFO entries, reasons per unscored allele, and scored (allele, gene) pairs."""

    entries: list = field(default_factory=list)
    reasons: list = field(default_factory=list)  # (alt, reason)
    scored: list = field(default_factory=list)  # (alt, Gene, y_ref [2D+1, 3], y_alt aligned [2D+1, 3])


@dataclass
class _Request:
    record: int
    alt: str
    gene: Gene
    slot: int  # index of the entry in its record's entries
    ref_key: tuple = ()
    alt_key: tuple = ()


def _record_reason(rec: Record, ctx: Context) -> tuple[str | None, str | None, list]:
    """(FASTA contig, reason for the whole record or None, genes holding it)."""
    chrom = ctx.contig(rec.chrom)
    if chrom is None:
        return None, "unknown_contig", []
    index = ctx.genes.get(chrom)
    genes = index.at(rec.pos) if index is not None else []
    if not genes:
        return chrom, "outside_genes", []
    length = ctx.genome.contigs[chrom]
    if semantics.near_contig_end(rec.pos, length, ctx.distance):
        return chrom, "near_contig_end", genes
    if len(rec.ref) > semantics.DELETION_FACTOR * ctx.distance + 1:
        return chrom, "deletion_too_long", genes
    bases = ctx.genome.fetch(chrom, rec.pos, rec.pos + len(rec.ref) - 1)
    if rec.ref != rec.ref.upper() or not np.array_equal(bases, kernels.encode(rec.ref)):
        return chrom, "ref_mismatch", genes  # SpliceAI: REF as written must equal the upper-cased genome
    return chrom, None, genes


def _allele_reason(alt: str) -> str | None:
    kind = allele_kind(alt)
    if kind != "bases":
        return {"missing": "missing_allele", "symbolic": "symbolic_allele", "breakend": "breakend_allele"}[kind]
    return None


def _plan(records: list[Record], ctx: Context) -> tuple[list[RecordResult], list[_Request], dict]:
    """Reasons and ``.`` entries now; a request per (record, allele, gene) to score; chrom per record."""
    results, requests, chroms = [], [], {}
    for i, rec in enumerate(records):
        res = RecordResult()
        results.append(res)
        chrom, reason, genes = _record_reason(rec, ctx)
        chroms[i] = chrom
        for alt in rec.alts:
            why = reason or _allele_reason(alt)
            if why is not None:
                res.reasons.append((alt, why))
                continue
            for gene in genes:
                if len(rec.ref) > 1 and len(alt) > 1:
                    res.entries.append(semantics.format_unscored(alt, gene.symbol))
                else:
                    requests.append(_Request(i, alt, gene, len(res.entries)))
                    res.entries.append(None)
    return results, requests, chroms


def _clusters(positions: list[int], gap: int) -> list[tuple[int, int]]:
    """Sorted positions grouped into runs whose neighbours are at most ``gap`` apart: (first, last)."""
    out = []
    for p in sorted(set(positions)):
        if out and p - out[-1][1] <= gap:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


def _padded(ctx: Context, chrom: str, gene: Gene, lo: int, hi: int) -> np.ndarray:
    """Genome codes of ``lo..hi`` with every base outside the gene's span read as N."""
    codes = ctx.genome.fetch(chrom, lo, hi).copy()
    a, b = max(gene.start - lo, 0), min(gene.end - lo + 1, codes.size)
    codes[:a] = N_CODE
    codes[max(b, 0):] = N_CODE
    return codes


class _Batch:
    """The sequences of one batch, deduplicated by key, and where each request's scores come from."""

    def __init__(self):
        self.keys: dict = {}
        self.seqs: list = []
        self.strands: list = []
        self.outputs: list = []

    def add(self, key: tuple, codes_fn, strand: str) -> int:
        if key not in self.keys:
            codes = codes_fn()
            self.keys[key] = len(self.seqs)
            self.seqs.append(kernels.reverse_complement(codes) if strand == "-" else codes)
            self.strands.append(strand)
        return self.keys[key]

    def run(self, runner) -> None:
        """Score every sequence (one engine call) and flip minus-strand outputs back to genomic order."""
        many = getattr(runner, "score_many", None)
        outs = many(self.seqs) if many is not None else [runner.score_sequence(s) for s in self.seqs]
        self.outputs = [o[::-1] if s == "-" else o for o, s in zip(outs, self.strands, strict=True)]


def _ref_windows(requests: list[_Request], records: list[Record], chroms: dict, ctx: Context, batch: _Batch):
    """Queue one reference sequence per gene and cluster of nearby variants; set each request's ref_key."""
    d, f = ctx.distance, ctx.flank
    by_gene: dict = {}
    for q in requests:
        by_gene.setdefault((chroms[q.record], q.gene), []).append(q)
    for (chrom, gene), qs in by_gene.items():
        spans = _clusters([records[q.record].pos for q in qs], gap=f)
        for q in qs:
            pos = records[q.record].pos
            first, last = next(s for s in spans if s[0] <= pos <= s[1])
            lo, hi = first - d - f, last + d + f
            key = ("ref", chrom, gene.strand, lo, hi, max(gene.start, lo), min(gene.end, hi))
            slot = batch.add(key, lambda c=chrom, g=gene, a=lo, b=hi: _padded(ctx, c, g, a, b), gene.strand)
            q.ref_key = (slot, pos - d - (first - d))


def _alt_windows(requests: list[_Request], records: list[Record], chroms: dict, ctx: Context, batch: _Batch):
    """Queue one alternative sequence per (variant, allele, padding); set each request's alt_key."""
    d, f = ctx.distance, ctx.flank
    for q in requests:
        rec, chrom, gene = records[q.record], chroms[q.record], q.gene
        lo, hi = semantics.window(rec.pos, d, f)
        key = ("alt", chrom, gene.strand, rec.pos, rec.ref, q.alt.upper(), max(gene.start, lo), min(gene.end, hi))

        def codes(rec=rec, chrom=chrom, gene=gene, lo=lo, hi=hi, alt=q.alt):
            ref = _padded(ctx, chrom, gene, lo, hi)
            at = rec.pos - lo
            return np.concatenate([ref[:at], kernels.encode(alt), ref[at + len(rec.ref):]])

        q.alt_key = (batch.add(key, codes, gene.strand),)


def _finish(requests: list[_Request], records: list[Record], results: list[RecordResult], ctx: Context,
            batch: _Batch, keep_scores: bool) -> None:
    """Delta scores of every request, written into its record's entry slot."""
    d = ctx.distance
    for q in requests:
        rec = records[q.record]
        slot, offset = q.ref_key
        y_ref = batch.outputs[slot][offset : offset + 2 * d + 1]
        y_alt = semantics.align_alt(batch.outputs[q.alt_key[0]], len(rec.ref), len(q.alt), d)
        masks = semantics.mask_arrays(q.gene, rec.pos, d) if ctx.mask else None
        scores, positions = semantics.delta_scores(y_ref, y_alt, d, masks)
        results[q.record].entries[q.slot] = semantics.format_entry(q.alt, q.gene.symbol, scores, positions)
        if keep_scores:
            results[q.record].scored.append((q.alt, q.gene, y_ref, y_alt))


def annotate_records(records: list[Record], ctx: Context, keep_scores: bool = False) -> list[RecordResult]:
    """SpliceAI annotation of ``records`` (see the module docstring); one engine call for the batch.

    Parameters
    ----------
    records : list of Record
    ctx : Context
    keep_scores : bool
        Also keep the reference and aligned alternative scores of every scored (allele, gene)
        (for ``--rows``).

    Returns
    -------
    list of RecordResult
        One per record, in order: entries in SpliceAI's order (alleles, then genes), and the
        reason of every allele left without an entry.
    """
    results, requests, chroms = _plan(records, ctx)
    if requests:
        batch = _Batch()
        _ref_windows(requests, records, chroms, ctx, batch)
        _alt_windows(requests, records, chroms, ctx, batch)
        batch.run(ctx.runner)
        _finish(requests, records, results, ctx, batch, keep_scores)
    return results
