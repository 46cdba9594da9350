"""Build configuration: what defines the dataset (hashed) and how a build runs (not hashed).

:class:`BuildConfig` is a frozen dataclass made of the shared :class:`~fastbuild.reference.InputSpec`
and :class:`~fastbuild.selection.SelectionSpec`, the dataset's own options, and
:class:`RunOptions`. Everything but ``run`` decides the rows written, so the hash rule is one
line: the canonical JSON of :meth:`BuildConfig.rows_relevant` plus the input checksums.

Options are also addressed flat, by their command-line names (``n_genes``, ``kmer_sizes``,
``jobs``...): :meth:`BuildConfig.from_options` and :meth:`BuildConfig.replace` route each to its
part, and :meth:`BuildConfig.to_dict` writes them flat (the form stored in build_info.json).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace

from fastbuild.checks import choice, number, positive, probability, whole
from fastbuild.errors import FastbuildError
from fastbuild.reference import InputSpec
from fastbuild.selection import POLICIES, SelectionSpec
from fastbuild_kernels.kmers import MAX_DENSE_ENTRIES

__all__ = ["KMER_LAYOUTS", "MAX_BATCH_ROWS", "MAX_CONTEXT", "MIN_BATCH_ROWS", "POLICIES", "POSITION_ID_MODES",
           "BuildConfig", "RunOptions", "config_hash", "describe_changes"]

POSITION_ID_MODES = ("genomic", "transcript", "splice_aware")
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


@dataclass(frozen=True)
class RunOptions:
    """How a build runs; never which rows it writes (not part of the configuration hash)."""

    output_dir: str | None = None
    jobs: int = 1
    progress: bool = True
    verbose: int = 0
    overwrite: bool = False
    no_manifest: bool = False

    def __post_init__(self):
        positive("jobs", self.jobs)


@dataclass(frozen=True)
class BuildConfig:
    """Every option of ``fastbuild build`` (and :func:`fastbuild.build_dataset`).

    Input fields hold paths as given; :func:`fastbuild.reference.resolve_inputs` turns the
    empty defaults into the embedded demo. See ``fastbuild build --help`` for each option.
    """

    inputs: InputSpec = field(default_factory=InputSpec)
    selection: SelectionSpec = field(default_factory=SelectionSpec)
    scores: str | None = None
    model: str | None = None
    batch_size: int = 1000
    batch_rows: int = 20000
    kmer_sizes: tuple[int, ...] = (3,)
    kmer_layout: str = "auto"
    hard_prob: float = 0.15
    window: int = 75
    easy_ratio: float = 0.5
    easy_floor: int = 25
    peak_prob: float = 0.001
    peak_radius: int = 10
    eval_mode: bool = False
    threshold: float = 0.5
    consensus_window: int = 2
    context_flank: tuple[int, int] = (250, 249)
    position_id_mode: str = "genomic"
    sequence_flank: int = 0
    split: str = "none"
    run_workflow: bool = False
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        """Check every option once; each bad value is one :class:`FastbuildError` naming its option."""
        choice("position_id_mode", self.position_id_mode, POSITION_ID_MODES)
        choice("kmer_layout", self.kmer_layout, KMER_LAYOUTS)
        positive("batch_size", self.batch_size)
        probability("hard_prob", self.hard_prob)
        probability("threshold", self.threshold)
        inf_hint = " (a large finite ratio such as 1e9 keeps every easy negative)"
        number("easy_ratio", self.easy_ratio, 0.0, hint=inf_hint if self.easy_ratio == math.inf else "")
        whole("window", self.window, 0)
        whole("easy_floor", self.easy_floor, 0)
        probability("peak_prob", self.peak_prob)
        whole("peak_radius", self.peak_radius, 0, MAX_CONTEXT)
        whole("sequence_flank", self.sequence_flank, 0, MAX_SEQUENCE_FLANK)
        if not isinstance(self.eval_mode, bool):
            raise FastbuildError(f"eval_mode must be True or False, got {self.eval_mode!r}")
        self._check_split()
        whole("consensus_window", self.consensus_window, 0)
        self._check_context_flank()
        self._check_kmers()
        self._check_batch_rows()

    def _check_split(self) -> None:
        from fastbuild.builder.splits import parse_split

        parse_split(self.split)

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
        parts: dict[str, dict] = {name: {} for name in _PARTS}
        own = {}
        for key, value in options.items():
            part = _PART_OF.get(key)
            if part is None and key not in _OWN:
                raise TypeError(f"unknown build option {key!r}")
            (parts[part] if part else own)[key] = value
        for name, changes in parts.items():
            if changes:
                own[name] = replace(getattr(self, name), **changes)
        return replace(self, **own)

    @classmethod
    def from_dict(cls, flat: dict) -> BuildConfig:
        """Inverse of :meth:`to_dict` (JSON lists back to tuples)."""
        flat = {k: tuple(v) if isinstance(v, list) else v for k, v in flat.items()}
        return cls.from_options(**flat)

    def to_dict(self) -> dict:
        """Every option, flat, JSON-ready (tuples as lists)."""
        flat = {}
        for f in fields(self):
            value = getattr(self, f.name)
            flat.update(asdict(value) if f.name in _PARTS else {f.name: value})
        return json.loads(json.dumps(flat, default=list))

    def rows_relevant(self) -> dict:
        """The options that decide the rows written (what a resumed build must match)."""
        d = {k: v for k, v in self.to_dict().items() if k not in _RUN_FIELDS}
        d["position_id_mode"] = "transcript" if self.transcript_mode else "genomic"
        return d

    # ------------------------------------------------------------------ derived
    def layout_of(self, k: int) -> str:
        """'wide' or 'sparse' for k-mer size ``k`` under ``kmer_layout``."""
        if self.kmer_layout == "auto":
            return "wide" if k <= 4 else "sparse"
        return self.kmer_layout

    @property
    def transcript_mode(self) -> bool:
        return self.position_id_mode in ("transcript", "splice_aware")


_PARTS = {"inputs": InputSpec, "selection": SelectionSpec, "run": RunOptions}
_PART_OF = {f.name: part for part, cls in _PARTS.items() for f in fields(cls)}
_OWN = {f.name for f in fields(BuildConfig)} - set(_PARTS)
_RUN_FIELDS = frozenset(f.name for f in fields(RunOptions))


def config_hash(relevant: dict) -> str:
    """sha256 of the canonical JSON of ``relevant`` (sorted keys)."""
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def describe_changes(old: dict, new: dict) -> str:
    """``key: old -> new`` for every differing key, comma separated."""
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts)
