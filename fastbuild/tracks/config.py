"""Configuration of ``fastbuild tracks`` (:class:`TracksConfig`) and ``fastbuild import`` (:class:`ImportConfig`).

Light on purpose (no numpy, polars or pybigtools): the parsers and their checks import no engine.
The work is :mod:`fastbuild.tracks.export` and :mod:`fastbuild.tracks.importer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastbuild.errors import FastbuildError
from fastbuild.options import check_fields, option
from fastbuild.specs import InputSpec

__all__ = ["STRAND_MODES", "ImportConfig", "TracksConfig"]

STRAND_MODES = ("split", "collapse")
"""``split``: one file per strand (``NAME.plus.bw``, ``NAME.minus.bw``); ``collapse``: one file
(``NAME.bw``) holding, at each position, the maximum over strands (the minimum for ``neither``)."""

SOURCE = "what to export (give one)"
GENOME = "genome (contig names and lengths)"
OUTPUT = "output"
TRACKS = "score tracks (give --tracks DIR, or the four bigWigs, or --table)"


@dataclass(frozen=True)
class TracksConfig:
    """What ``fastbuild tracks`` exports (a score store, a dataset or predictions), where, and how."""

    scores: str | None = option(None, "score store (fastbuild predict --scores): bigWigs of donor, acceptor and "
                                      "neither", group=SOURCE, cli={"metavar": "STORE"})
    dataset: str | None = option(None, "finished dataset folder (fastbuild build --output-dir): sites.bed, a BED9 of "
                                       "its TP/FP/FN sites coloured by class, and a bigWig of each --column",
                                 group=SOURCE, cli={"metavar": "DIR"})
    predictions: str | None = option(
        None, "a meta-model's predictions: Parquet of gene_id, position, p_donor, p_acceptor (the loaders' ids); "
              "bigWigs of p_donor and p_acceptor, each gene on its strand (chrom and strand from the file's own "
              "columns, else from --dataset)", group=SOURCE, cli={"metavar": "FILE"})
    columns: tuple[str, ...] = option((), "with --dataset: numeric columns to write as bigWigs too (e.g. "
                                          "donor_score gc_content)", flags=("--column",), group=SOURCE,
                                      parse=tuple, cli={"nargs": "+", "metavar": "NAME"})
    fasta: str | None = option(None, "genome FASTA whose contig names and lengths the tracks get (default: the "
                                     "FASTA a dataset's build_info.json records, else the embedded demo's)",
                               group=GENOME)
    reference: str | None = option(None, "reference tables from fastbuild prepare (their FASTA, instead of --fasta)",
                                   group=GENOME, cli={"metavar": "DIR"})
    out: str | None = option(None, "output folder of the tracks (and tracks.json, igv_session.xml)", group=OUTPUT,
                             cli={"required": True, "metavar": "DIR"})
    strands: str = option("split", "split: one bigWig per strand (NAME.plus.bw, NAME.minus.bw); collapse: one "
                                   "(NAME.bw), the maximum over strands at each position (the minimum for neither)",
                          group=OUTPUT, choices=STRAND_MODES)
    overwrite: bool = option(False, "replace tracks already in --out", group=OUTPUT)

    def __post_init__(self):
        check_fields(self)
        given = [flag for flag, value in (("--scores", self.scores), ("--dataset", self.dataset),
                                          ("--predictions", self.predictions)) if value is not None]
        if len(given) > 1 and given != ["--dataset", "--predictions"]:
            raise FastbuildError(f"give one of --scores, --dataset, --predictions, not {' and '.join(given)}")
        if self.columns and self.dataset is None:
            raise FastbuildError("--column needs --dataset (the dataset whose columns to write)")
        if self.columns and self.predictions is not None:
            raise FastbuildError("--column goes with --dataset alone, not with --predictions")

    @property
    def source(self) -> str | None:
        """``scores``, ``dataset`` or ``predictions`` (None: nothing named yet)."""
        if self.predictions is not None:
            return "predictions"
        return "scores" if self.scores is not None else "dataset" if self.dataset is not None else None


@dataclass(frozen=True)
class ImportConfig:
    """Score tracks of another model -> a score store (``fastbuild import``)."""

    scores: str | None = option(None, "score store to create (a folder; refused when it holds anything, unless "
                                      "--overwrite)", cli={"required": True, "metavar": "STORE"})
    tracks: str | None = option(None, "folder of bigWigs as fastbuild tracks --scores writes them (donor.plus.bw, "
                                      "donor.minus.bw, acceptor.plus.bw, acceptor.minus.bw, and neither.*.bw when "
                                      "there)", group=TRACKS, cli={"metavar": "DIR"})
    donor_plus: str | None = option(None, "bigWig of donor probabilities of the + strand", group=TRACKS,
                                    cli={"metavar": "FILE"})
    donor_minus: str | None = option(None, "bigWig of donor probabilities of the - strand", group=TRACKS,
                                     cli={"metavar": "FILE"})
    acceptor_plus: str | None = option(None, "bigWig of acceptor probabilities of the + strand", group=TRACKS,
                                       cli={"metavar": "FILE"})
    acceptor_minus: str | None = option(None, "bigWig of acceptor probabilities of the - strand", group=TRACKS,
                                        cli={"metavar": "FILE"})
    neither_plus: str | None = option(None, "bigWig of neither probabilities of the + strand (default: 1 - donor "
                                            "- acceptor, at least 0)", group=TRACKS, cli={"metavar": "FILE"})
    neither_minus: str | None = option(None, "bigWig of neither probabilities of the - strand", group=TRACKS,
                                       cli={"metavar": "FILE"})
    table: str | None = option(None, "Parquet, TSV or CSV (optionally gzipped) of chrom, position (1-based), strand "
                                     "(+/-), donor, acceptor and optionally neither: one row per scored base",
                               group=TRACKS, cli={"metavar": "FILE"})
    inputs: InputSpec = option(default_factory=InputSpec)
    strand_check: bool = option(True, "refuse tracks whose other strand scores higher than their own at the "
                                      "annotated splice sites (plus and minus files swapped)",
                                cli={"negatable": True})
    overwrite: bool = option(False, "replace what --scores holds")

    def __post_init__(self):
        check_fields(self)
        files = self.bigwig_files()
        if self.table is not None and (self.tracks is not None or files):
            raise FastbuildError("give --table or bigWigs (--tracks DIR / --donor-plus ...), not both")

    def require_source(self) -> None:
        """FastbuildError unless tracks to import are named (a default configuration names none)."""
        if self.table is None and self.tracks is None and not self.bigwig_files():
            raise FastbuildError("nothing to import: give --tracks DIR, the four bigWigs (--donor-plus, "
                                 "--donor-minus, --acceptor-plus, --acceptor-minus) or --table FILE")
        if self.scores is None:
            raise FastbuildError("give --scores STORE, the score store to create")

    def bigwig_files(self) -> dict[str, str]:
        """The bigWigs named one by one, by role (``donor+`` ... ``neither-``)."""
        named = {"donor+": self.donor_plus, "donor-": self.donor_minus, "acceptor+": self.acceptor_plus,
                 "acceptor-": self.acceptor_minus, "neither+": self.neither_plus, "neither-": self.neither_minus}
        return {role: path for role, path in named.items() if path is not None}
