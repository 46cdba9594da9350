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
from dataclasses import asdict, dataclass, field, fields, replace

from fastbuild.checks import choice, positive, unit
from fastbuild.errors import FastbuildError
from fastbuild.reference import InputSpec
from fastbuild.selection import POLICIES, SelectionSpec

__all__ = ["KMER_LAYOUTS", "POLICIES", "POSITION_ID_MODES", "BuildConfig", "RunOptions",
           "config_hash", "describe_changes"]

POSITION_ID_MODES = ("genomic", "transcript", "splice_aware")
KMER_LAYOUTS = ("wide", "sparse", "auto")
MAX_WIDE_K = 6
MAX_K = 12


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
    threshold: float = 0.5
    consensus_window: int = 2
    context_flank: tuple[int, int] = (250, 249)
    position_id_mode: str = "genomic"
    run_workflow: bool = False
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        choice("position_id_mode", self.position_id_mode, POSITION_ID_MODES)
        choice("kmer_layout", self.kmer_layout, KMER_LAYOUTS)
        positive("batch_size", self.batch_size)
        positive("batch_rows", self.batch_rows)
        self._check_kmers()
        unit("hard_prob", self.hard_prob)
        unit("threshold", self.threshold)
        if self.easy_ratio < 0:
            raise FastbuildError(f"--easy-ratio must be >= 0, got {self.easy_ratio}")
        if self.window < 0 or self.consensus_window < 0:
            raise FastbuildError("--window and --consensus-window must be >= 0")
        if len(self.context_flank) != 2 or min(self.context_flank) < 0:
            raise FastbuildError(f"--context-flank needs two non-negative numbers, got {self.context_flank}")

    def _check_kmers(self) -> None:
        for k in self.kmer_sizes:
            if not 1 <= k <= MAX_K:
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
