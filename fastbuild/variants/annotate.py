"""Score a batch of VCF records the way SpliceAI 1.3.1 does, with shared work.

:func:`annotate_records` takes the records of one work unit and returns, per record, its INFO
entries (``ALLELE|SYMBOL|DS_AG|...``), the reasons of the alleles it could not score and, for
``--rows``, the aligned scores. The rules are :mod:`fastbuild.variants.semantics`; what this
module adds is speed without changing a number:

* every sequence of the batch goes to the engine in one call (``runner.score_edits``);
* reference scores are computed once per gene and cluster of nearby variants (a base's score
  depends only on the bases within the model's flank, and the gene's N padding is the same for
  every variant of the gene), then sliced for each variant, allele and gene;
* each alternative allele is an edit of its cluster's reference stream: the numpy engine
  recomputes only the activations the edit changes (its cone through the dilated layers,
  :mod:`fastbuild.basemodel.cone`), other engines score its window whole; edits identical for
  two genes (the same stream) are scored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import fastbuild_kernels as kernels
from fastbuild.basemodel.runner import Edit
from fastbuild.contigs import canonical
from fastbuild.variants import semantics
from fastbuild.variants.semantics import Gene
from fastbuild.variants.vcf import Record, allele_kind

__all__ = ["Context", "GeneIndex", "RecordResult", "annotate_records"]

N_CODE = 4
#: Variants of one gene whose first and last are further apart than this get separate reference
#: streams (bounds the memory of one stream's kept activations: ~6.5 KiB per base and network).
MAX_CLUSTER_SPAN = 20_000


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
    if len(rec.ref) > semantics.DELETION_FACTOR * ctx.distance + 1 or len(rec.ref) - 1 > ctx.distance + ctx.flank:
        # (the second: models whose flank is shorter than the deletion; never for SpliceAI-10k, D < 5,000)
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


def _clusters(positions: list[int], gap: int, span: int) -> list[tuple[int, int]]:
    """Sorted positions grouped into runs whose neighbours are at most ``gap`` apart and whose
    first and last are at most ``span`` apart: (first, last)."""
    out = []
    for p in sorted(set(positions)):
        if out and p - out[-1][1] <= gap and p - out[-1][0] <= span:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return out


def padded_codes(genome, gene: Gene, lo: int, hi: int) -> np.ndarray:
    """Genome codes of ``gene.chrom:lo..hi`` (1-based, inclusive) with every base outside the
    gene's span (and the contig) read as N."""
    codes = genome.fetch(gene.chrom, lo, hi).copy()
    a, b = max(gene.start - lo, 0), max(min(gene.end - lo + 1, codes.size), 0)
    codes[:a] = N_CODE
    codes[b:] = N_CODE
    return codes


class _Batch:
    """The reference streams of one batch (deduplicated by key) with their edits (deduplicated
    per stream), scored in one engine call."""

    def __init__(self):
        self.keys: dict = {}
        self.seqs: list = []
        self.strands: list = []
        self.edits: list = []  # per stream: [Edit]
        self.edit_keys: dict = {}
        self.outputs: list = []
        self.edit_outputs: list = []

    def add(self, key: tuple, codes_fn, strand: str) -> int:
        """The slot of a reference stream (genomic codes, reverse-complemented on '-')."""
        if key not in self.keys:
            codes = codes_fn()
            self.keys[key] = len(self.seqs)
            self.seqs.append(kernels.reverse_complement(codes) if strand == "-" else codes)
            self.strands.append(strand)
            self.edits.append([])
        return self.keys[key]

    def add_edit(self, slot: int, key: tuple, edit_fn) -> int:
        """Index of an edit of stream ``slot`` (made by ``edit_fn`` when new)."""
        if (slot, key) not in self.edit_keys:
            self.edit_keys[(slot, key)] = len(self.edits[slot])
            self.edits[slot].append(edit_fn())
        return self.edit_keys[(slot, key)]

    def run(self, runner) -> None:
        """Score every stream and edit (one engine call); minus-strand outputs back to genomic order."""
        refs, edits = runner.score_edits(self.seqs, self.edits)
        flip = [s == "-" for s in self.strands]
        self.outputs = [o[::-1] if f else o for o, f in zip(refs, flip, strict=True)]
        self.edit_outputs = [[o[::-1] if f else o for o in es] for es, f in zip(edits, flip, strict=True)]


def _ref_windows(requests: list[_Request], records: list[Record], chroms: dict, ctx: Context, batch: _Batch):
    """Queue one reference stream per gene and cluster of nearby variants; set each request's
    ref_key (slot, first genomic base of the stream, its length)."""
    d, f = ctx.distance, ctx.flank
    by_gene: dict = {}
    for q in requests:
        by_gene.setdefault((chroms[q.record], q.gene), []).append(q)
    for (chrom, gene), qs in by_gene.items():
        # variants closer than 2 (D + flank) share a stream: one stream over both windows has fewer rows than two
        spans = _clusters([records[q.record].pos for q in qs], gap=2 * (d + f), span=MAX_CLUSTER_SPAN)
        for q in qs:
            pos = records[q.record].pos
            first, last = next(s for s in spans if s[0] <= pos <= s[1])
            lo, hi = first - d - f, last + d + f
            key = ("ref", chrom, gene.strand, lo, hi, max(gene.start, lo), min(gene.end, hi))
            slot = batch.add(key, lambda g=gene, a=lo, b=hi: padded_codes(ctx.genome, g, a, b), gene.strand)
            q.ref_key = (slot, lo, hi - lo + 1)


def _edit(rec: Record, alt: str, strand: str, lo: int, n: int, d: int, f: int) -> Edit:
    """The edit of a stream of ``n`` bases from genomic ``lo`` (reverse-complemented on '-')
    that puts ``alt`` in place of REF, with the variant's window (``pos +- (D + flank)``)."""
    lr, codes = len(rec.ref), kernels.encode(alt)
    at, w_lo, w_hi = rec.pos - lo, rec.pos - d - f - lo, rec.pos + d + f - lo  # forward indices
    shift = codes.size - lr
    if strand == "-":
        return Edit(n - lr - at, lr, kernels.reverse_complement(codes), n - 1 - w_hi, n - w_lo + shift)
    return Edit(at, lr, codes, w_lo, w_hi + 1 + shift)


def _alt_windows(requests: list[_Request], records: list[Record], ctx: Context, batch: _Batch):
    """Queue one edit per (stream, variant, allele); set each request's alt_key."""
    d, f = ctx.distance, ctx.flank
    for q in requests:
        rec, (slot, lo, n) = records[q.record], q.ref_key
        key = (rec.pos, rec.ref, q.alt.upper())
        j = batch.add_edit(slot, key, lambda r=rec, a=q.alt, s=q.gene.strand, b=lo, m=n: _edit(r, a, s, b, m, d, f))
        q.alt_key = (slot, j)


def _finish(requests: list[_Request], records: list[Record], results: list[RecordResult], ctx: Context,
            batch: _Batch, keep_scores: bool) -> None:
    """Delta scores of every request, written into its record's entry slot."""
    d = ctx.distance
    for q in requests:
        rec = records[q.record]
        slot, lo, _ = q.ref_key
        offset = rec.pos - d - (lo + ctx.flank)
        y_ref = batch.outputs[slot][offset : offset + 2 * d + 1]
        y_alt = semantics.align_alt(batch.edit_outputs[slot][q.alt_key[1]], len(rec.ref), len(q.alt), d)
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
        _alt_windows(requests, records, ctx, batch)
        batch.run(ctx.runner)
        _finish(requests, records, results, ctx, batch, keep_scores)
    return results
