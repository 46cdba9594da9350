"""Build configuration: what defines the dataset (hashed) and how a build runs (not hashed).

:class:`BuildConfig` is a frozen dataclass made of the shared :class:`~fastbuild.reference.InputSpec`
and :class:`~fastbuild.selection.SelectionSpec`, the dataset's own options, and the shared
:class:`~fastbuild.options.RunOptions`. Every option except those in :data:`NOT_HASHED` (``run``,
``output_dir``, ``overwrite``, ``no_manifest``) decides the rows written, so the hash rule is one
line: the canonical JSON of :meth:`BuildConfig.rows_relevant` plus the input checksums.

Options are also addressed flat, by their command-line names (``n_genes``, ``kmer_sizes``,
``jobs``...): :meth:`BuildConfig.from_options` and :meth:`BuildConfig.replace` route each to its
part, and :meth:`BuildConfig.to_dict` writes them flat (the form stored in build_info.json).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields

from fastbuild.checks import number, positive, probability, whole
from fastbuild.errors import FastbuildError
from fastbuild.options import RunOptions, check_fields, option, replace_flat, to_flat_dict
from fastbuild.specs import POLICIES, InputSpec, SelectionSpec
from fastbuild_kernels.limits import MAX_DENSE_ENTRIES

__all__ = ["KMER_LAYOUTS", "MAX_BATCH_ROWS", "MAX_CONTEXT", "MIN_BATCH_ROWS", "POLICIES", "POSITION_ID_MODES",
           "PSEUDOGENE_POLICIES",
           "BuildConfig", "RunOptions", "config_hash", "describe_changes"]

POSITION_ID_MODES = ("genomic", "transcript", "splice_aware")
#: ``--pseudogenes``: what a training (non-eval) build does with genes of pseudogene types.
PSEUDOGENE_POLICIES = ("drop", "keep")
KMER_LAYOUTS = ("wide", "sparse", "auto")
MAX_WIDE_K = 6
MAX_K = 12
#: Largest ``UP + DOWN`` of ``--context-flank``: k-mer and base counts of the ``UP + DOWN + 1`` nt
#: window are uint16 (the kernels refuse windows longer than 65535 nt).
MAX_CONTEXT = 65534
#: Smallest ``--batch-rows``. Every record batch is a Parquet row group costing ~10 ms and ~230 KB
#: of footer metadata held until its file closes (measured on the demo build), while a buffered row
#: costs ~1.9 KB: below ~120 rows a smaller value raises memory as well as time.
MIN_BATCH_ROWS = 100
#: Largest ``--sequence-flank``: 2 * 500 + 1 local sequence code columns.
MAX_SEQUENCE_FLANK = 500
#: Largest ``--batch-rows`` (~1.9 KB per buffered row: ~32 GB; string columns keep int32 offsets).
MAX_BATCH_ROWS = 2**24
_INT32_MAX = 2**31 - 1


LABELS = "labels and downsampling"
FEATURES = "features"
RUNNING = "running"
SPLIT_HELP = (
    "train/test split recorded in the split column, whole gene clusters (overlapping genes, either strand) "
    "kept together: 'none'; 'spliceai' (SpliceAI's chromosome split: test chr1,3,5,7,9, train the rest); "
    "'chrom:test=chr1,chr3;valid=chr2;train=rest' (contig lists); "
    "'region:test=CHROM:START-END;train=rest' (1-based inclusive regions); 'file:PATH' (table of gene_id, split)"
)


def parse_kmer_sizes(values: list[str]) -> tuple[int, ...]:
    """``--kmer-sizes`` words (space- or comma-separated whole numbers; ``0`` alone: none) -> sizes."""
    sizes = []
    for v in values:
        for part in re.split(r"[,\s]+", str(v).strip()):
            if not part:
                continue
            if not part.isdigit():
                raise FastbuildError(f"--kmer-sizes: {part!r} is not a whole number")
            sizes.append(int(part))
    if sizes == [0] or not sizes:
        return ()
    if 0 in sizes:
        raise FastbuildError("--kmer-sizes: 0 means 'no k-mers' and cannot be combined with other sizes")
    return tuple(sizes)


TRACK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TRACK_HELP = ("external track as features, repeatable: NAME=PATH, a bigWig or a bedGraph (plain or gzip) whose "
              "value at each position becomes column NAME, and its means over W bases up- and downstream "
              "NAME_mean_{up,down}W (W = 10, 50, 250; over the bases with data; null where none), e.g. "
              "--track phylop=hg38.phyloP100way.bw; needs fastbuild-splice[tracks] for bigWig")


def parse_tracks(values) -> tuple[str, ...]:
    """``--track`` words (``NAME=PATH``, repeatable), or a ``{name: path}`` mapping -> ``("NAME=PATH", ...)``."""
    if isinstance(values, dict):
        return tuple(f"{name}={path}" for name, path in values.items())
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)


def split_track(spec: str) -> tuple[str, str]:
    """``"NAME=PATH"`` -> ``(NAME, PATH)``; a FastbuildError naming the option for anything else."""
    name, sep, path = str(spec).partition("=")
    if not sep or not path:
        raise FastbuildError(f"--track needs NAME=PATH (a column name, =, a bigWig or bedGraph file), got {spec!r}")
    if not TRACK_NAME.fullmatch(name):
        raise FastbuildError(f"--track {spec}: {name!r} is not a column name (letters, digits and _, not starting "
                             "with a digit)")
    return name, path


def _nonnegative(name: str, value) -> None:
    whole(name, value, 0)


def _bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise FastbuildError(f"{name} must be True or False, got {value!r}")


def _easy_ratio(name: str, value) -> None:
    inf_hint = " (a large finite ratio such as 1e9 keeps every easy negative)"
    number(name, value, 0.0, hint=inf_hint if value == math.inf else "")


@dataclass(frozen=True)
class BuildConfig:
    """Every option of ``fastbuild build`` (and :func:`fastbuild.build_dataset`).

    Each field is declared once with :func:`fastbuild.options.option` (flag, help, default,
    check); ``fastbuild build --help`` is generated from these declarations. Input fields hold
    paths as given; :func:`fastbuild.reference.resolve_inputs` turns the empty defaults into the
    embedded demo.
    """

    inputs: InputSpec = field(default_factory=InputSpec)
    scores: str | None = option(None, "score store of the base model (from fastbuild predict)")
    model: str | None = option(None, "base model used to score genes the store lacks: 'spliceai' or .h5/.pt weight "
                                     "files or a folder")
    output_dir: str | None = option(
        "fastbuild_out", "dataset folder (batch files, master/, manifest, build_info.json); from Python, None "
                         "builds in memory")
    selection: SelectionSpec = field(default_factory=SelectionSpec)
    threshold: float = option(0.5, "probability at which the base model calls a site", group=LABELS,
                              check=probability)
    consensus_window: int = option(2, "a true site is TP if the model calls it within this many nt", group=LABELS,
                                   check=_nonnegative)
    hard_prob: float = option(0.15, "keep true negatives with max(donor, acceptor) prob at least this",
                              group=LABELS, check=probability)
    window: int = option(75, "keep true negatives within this many nt of an annotated site", group=LABELS,
                         check=_nonnegative)
    easy_ratio: float = option(0.5, "then keep this many easy true negatives per non-TN row (seeded sample)",
                               group=LABELS, check=_easy_ratio)
    easy_floor: int = option(25, "keep at least this many easy true negatives per gene (all when it has fewer), so "
                                 "genes without any TP/FP/FN contribute rows too", group=LABELS, check=_nonnegative)
    peak_prob: float = option(0.001, "also keep, as hard negatives, true negatives at local peaks of max(donor, "
                                     "acceptor) scoring at least this (1 keeps none): the base model's sharp low-score "
                                     "calls", group=LABELS, check=probability)
    peak_radius: int = option(10, "a local peak scores no less than every position within this many nt",
                              group=LABELS, check=lambda n, v: whole(n, v, 0, MAX_CONTEXT))
    eval_mode: bool = option(False, "evaluation / inference mode: keep every position (no downsampling; "
                                    "sample_weight 1); recorded in build_info.json", group=LABELS, check=_bool)
    pseudogenes: str = option(
        "drop", "training builds: 'drop' leaves out genes whose type names a pseudogene (the base model's calls at "
                "their splice-like sites, which the annotation does not list, become FP labels that teach a "
                "meta-model to miss real sites; see docs/benchmarks.md), 'keep' keeps them; --eval-mode builds "
                "always keep every gene type", group=LABELS, choices=PSEUDOGENE_POLICIES)
    position_id_mode: str = option("genomic", "genomic: one row per gene position; transcript/splice_aware: one row "
                                              "per transcript x position, labelled by that transcript's sites",
                                   group=LABELS, choices=POSITION_ID_MODES)
    kmer_sizes: tuple[int, ...] = option((3,), "k-mer sizes, space- or comma-separated; 0 for none", group=FEATURES,
                                         parse=parse_kmer_sizes, cli={"nargs": "+"})
    kmer_layout: str = option("auto", "wide: one uint16 column per k-mer; sparse: list columns of ids and counts; "
                                      "auto: wide for k <= 4", group=FEATURES, choices=KMER_LAYOUTS)
    context_flank: tuple[int, int] = option((250, 249), "k-mer/composition window: nt upstream and downstream of the "
                                                        "position", group=FEATURES, parse=tuple,
                                            cli={"nargs": 2, "type": int, "metavar": ("UP", "DOWN")})
    sequence_flank: int = option(0, "add the bases at offsets -F..+F of each position as columns nt_uF..nt_0..nt_dF "
                                    "(codes A=0 C=1 G=2 T=3 N=4, transcript orientation); 0: none", group=FEATURES,
                                 check=lambda n, v: whole(n, v, 0, MAX_SEQUENCE_FLANK), cli={"metavar": "F"})
    tracks: tuple[str, ...] = option((), TRACK_HELP, flags=("--track",), group=FEATURES, parse=parse_tracks,
                                     cli={"action": "append", "metavar": "NAME=PATH"})
    split: str = option("none", SPLIT_HELP, group=FEATURES, cli={"metavar": "SPEC"})
    batch_size: int = option(1000, "genes per batch file", group=RUNNING, check=positive)
    batch_rows: int = option(
        20000, "rows per Arrow record batch / Parquet row group (at least 100): bounds the rows buffered in memory; "
               "each row group also costs ~10 ms and ~230 KB of footer memory until its file closes, so values far "
               "below the default slow the build without saving memory", group=RUNNING)
    overwrite: bool = option(False, "discard an existing build in --output-dir and start over", group=RUNNING)
    run_workflow: bool = option(False, "score selected genes that lack scores with --model (implied when needed)",
                                group=RUNNING)
    no_manifest: bool = option(False, "do not write gene_manifest.csv", group=RUNNING)
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        """Check every option once; each bad value is one :class:`FastbuildError` naming its option."""
        if not isinstance(self.tracks, tuple):
            object.__setattr__(self, "tracks", parse_tracks(self.tracks))
        check_fields(self)
        self._check_split()
        self._check_tracks()
        self._check_context_flank()
        self._check_kmers()
        self._check_batch_rows()

    def _check_split(self) -> None:
        from fastbuild.builder.split_spec import parse_split

        parse_split(self.split)

    def _check_tracks(self) -> None:
        """Each ``--track`` is NAME=PATH with a NAME of its own (clashes with built-in columns: the schema)."""
        names = [split_track(spec)[0] for spec in self.tracks]
        for name in names:
            if names.count(name) > 1:
                raise FastbuildError(f"--track names {name} twice; give each track a NAME of its own")

    def _check_context_flank(self) -> None:
        flank = self.context_flank
        if not isinstance(flank, (tuple, list)) or len(flank) != 2:
            raise FastbuildError(f"--context-flank needs two whole numbers (UP DOWN), got {flank!r}")
        up, down = (whole("context_flank", v, 0) for v in flank)
        if up + down > MAX_CONTEXT:
            raise FastbuildError(
                f"--context-flank UP + DOWN must be <= {MAX_CONTEXT} (k-mer counts of the UP + DOWN + 1 nt window "
                f"are uint16), got {up} {down}"
            )

    def _check_batch_rows(self) -> None:
        """``--batch-rows`` within MIN_BATCH_ROWS..the smallest upper limit of the k-mer columns."""
        limit, why = MAX_BATCH_ROWS, "a record batch buffers ~1.9 KB per row"
        span = sum(self.context_flank) + 1
        for k in self.kmer_sizes:
            if self.layout_of(k) == "wide":
                cap = MAX_DENSE_ENTRIES // 4**k
                reason = f"--kmer-layout wide: {4 ** k} {k}-mer counts per row, at most 2**31 per batch"
            else:
                per_row = max(1, min(4**k, span - k + 1))
                cap = _INT32_MAX // per_row
                reason = f"up to {per_row} {k}-mer ids per row in a list column with int32 offsets"
            if cap < limit:
                limit, why = cap, reason
        rows = whole("batch_rows", self.batch_rows, MIN_BATCH_ROWS, None,
                     hint=" (every row group costs ~10 ms and ~230 KB of Parquet footer memory until its file "
                          "closes: fewer rows per group only slow the build and raise its memory)")
        whole("batch_rows", rows, None, limit, hint=f" ({why})")

    def _check_kmers(self) -> None:
        if not isinstance(self.kmer_sizes, (tuple, list)):
            raise FastbuildError(f"--kmer-sizes needs a sequence of whole numbers, got {self.kmer_sizes!r}")
        for k in self.kmer_sizes:
            if not 1 <= whole("kmer_sizes", k, maximum=None) <= MAX_K:
                raise FastbuildError(f"--kmer-sizes: {k} is out of range; use 1..{MAX_K}, or 0 for none")
            if self.layout_of(k) == "wide" and k > MAX_WIDE_K:
                raise FastbuildError(
                    f"--kmer-sizes {k} with --kmer-layout wide would write {4 ** k} columns; use --kmer-layout sparse"
                )
        if len(set(self.kmer_sizes)) != len(self.kmer_sizes):
            raise FastbuildError(f"--kmer-sizes repeats a size: {' '.join(map(str, self.kmer_sizes))}")

    # ------------------------------------------------------------------ flat options
    @classmethod
    def from_options(cls, **options) -> BuildConfig:
        """A configuration from flat option names (``BuildConfig.from_options(n_genes=10, jobs=2)``)."""
        return cls().replace(**options)

    def replace(self, **options) -> BuildConfig:
        """A copy with flat options changed; each is routed to the part that holds it."""
        return replace_flat(self, options, "build")

    @classmethod
    def from_dict(cls, flat: dict) -> BuildConfig:
        """Inverse of :meth:`to_dict` (JSON lists back to tuples)."""
        flat = {k: tuple(v) if isinstance(v, list) else v for k, v in flat.items()}
        return cls.from_options(**flat)

    def to_dict(self) -> dict:
        """Every option, flat, JSON-ready (tuples as lists)."""
        return json.loads(json.dumps(to_flat_dict(self), default=list))

    def rows_relevant(self) -> dict:
        """The options that decide the rows written (what a resumed build must match)."""
        d = {k: v for k, v in self.to_dict().items() if k not in NOT_HASHED}
        if not d.get("tracks"):  # builds without --track hash as they did before the option existed
            d.pop("tracks", None)
        d["position_id_mode"] = "transcript" if self.transcript_mode else "genomic"
        if not self.drops_pseudogenes:  # the rows of before --pseudogenes: the hash of before (old plans resume)
            del d["pseudogenes"]
        return d

    # ------------------------------------------------------------------ derived
    def layout_of(self, k: int) -> str:
        """'wide' or 'sparse' for k-mer size ``k`` under ``kmer_layout``."""
        if self.kmer_layout == "auto":
            return "wide" if k <= 4 else "sparse"
        return self.kmer_layout

    @property
    def drops_pseudogenes(self) -> bool:
        """True when this build leaves out genes of pseudogene types (training builds, ``--pseudogenes drop``)."""
        return self.pseudogenes == "drop" and not self.eval_mode

    @property
    def track_specs(self) -> tuple[tuple[str, str], ...]:
        """``--track`` as ``(name, path)`` pairs, in the order given."""
        return tuple(split_track(spec) for spec in self.tracks)

    @property
    def transcript_mode(self) -> bool:
        return self.position_id_mode in ("transcript", "splice_aware")


#: Options that never change the rows (how and where a build runs): left out of the configuration hash.
NOT_HASHED = frozenset({"output_dir", "overwrite", "no_manifest", *(f.name for f in fields(RunOptions))})


def config_hash(relevant: dict) -> str:
    """sha256 of the canonical JSON of ``relevant`` (sorted keys)."""
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def describe_changes(old: dict, new: dict) -> str:
    """``key: old -> new`` for every differing key, comma separated."""
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts)
