"""Build configuration: one frozen dataclass, its canonical hash and a readable diff."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from fastbuild.errors import FastbuildError

POLICIES = ("error_total", "error_fp", "error_fn", "random", "custom", "all")
POSITION_ID_MODES = ("genomic", "transcript", "splice_aware")
KMER_LAYOUTS = ("wide", "sparse", "auto")
MAX_WIDE_K = 6
MAX_K = 12

# options that change how a build runs but never which rows it writes
RUNTIME_ONLY = frozenset({"jobs", "progress", "verbose", "overwrite", "output_dir", "no_manifest"})


@dataclass(frozen=True)
class BuildConfig:
    """Every option of ``fastbuild build`` (and :func:`fastbuild.build_dataset`).

    Input fields hold paths as given; :func:`fastbuild.builder.runner.resolve_inputs` turns the
    empty defaults into the embedded demo. See ``fastbuild build --help`` for each option.
    """

    fasta: str | None = None
    annotation: str | None = None
    reference: str | None = None
    scores: str | None = None
    model: str | None = None
    chrom_alias: str | None = None
    annotation_format: str = "auto"
    output_dir: str | None = None
    n_genes: int = 20000
    subset_policy: str = "error_total"
    gene_types: tuple[str, ...] = ()
    gene_ids_file: str | None = None
    gene_col: str | None = None
    batch_size: int = 1000
    batch_rows: int = 20000
    kmer_sizes: tuple[int, ...] = (3,)
    kmer_layout: str = "auto"
    hard_prob: float = 0.15
    window: int = 75
    easy_ratio: float = 0.5
    seed: int = 42
    threshold: float = 0.5
    consensus_window: int = 2
    context_flank: tuple[int, int] = (250, 249)
    position_id_mode: str = "genomic"
    run_workflow: bool = False
    overwrite: bool = False
    no_manifest: bool = False
    jobs: int = 1
    progress: bool = True
    verbose: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        check = _Checker()
        check.choice("subset_policy", self.subset_policy, POLICIES)
        check.choice("position_id_mode", self.position_id_mode, POSITION_ID_MODES)
        check.choice("kmer_layout", self.kmer_layout, KMER_LAYOUTS)
        check.positive("n_genes", self.n_genes)
        check.positive("batch_size", self.batch_size)
        check.positive("batch_rows", self.batch_rows)
        check.positive("jobs", self.jobs)
        for k in self.kmer_sizes:
            if not 1 <= k <= MAX_K:
                raise FastbuildError(f"--kmer-sizes: {k} is out of range; use 1..{MAX_K}, or 0 for none")
            if self.layout_of(k) == "wide" and k > MAX_WIDE_K:
                raise FastbuildError(
                    f"--kmer-sizes {k} with --kmer-layout wide would write {4 ** k} columns; use --kmer-layout sparse"
                )
        if len(set(self.kmer_sizes)) != len(self.kmer_sizes):
            raise FastbuildError(f"--kmer-sizes repeats a size: {' '.join(map(str, self.kmer_sizes))}")
        check.unit("hard_prob", self.hard_prob)
        check.unit("threshold", self.threshold)
        if self.easy_ratio < 0:
            raise FastbuildError(f"--easy-ratio must be >= 0, got {self.easy_ratio}")
        if self.window < 0 or self.consensus_window < 0:
            raise FastbuildError("--window and --consensus-window must be >= 0")
        if len(self.context_flank) != 2 or min(self.context_flank) < 0:
            raise FastbuildError(f"--context-flank needs two non-negative numbers, got {self.context_flank}")
        if not 0 <= self.seed < 2 ** 63:
            raise FastbuildError(f"--seed must be in 0..2**63-1, got {self.seed}")
        if self.subset_policy == "custom" and not self.gene_ids_file:
            raise FastbuildError("--subset-policy custom needs --gene-ids-file")
        if (self.fasta is None) != (self.annotation is None) and self.reference is None:
            raise FastbuildError("give --fasta and --gtf together (or --reference DIR from fastbuild prepare)")

    def layout_of(self, k: int) -> str:
        """'wide' or 'sparse' for k-mer size ``k`` under ``kmer_layout``."""
        if self.kmer_layout == "auto":
            return "wide" if k <= 4 else "sparse"
        return self.kmer_layout

    @property
    def transcript_mode(self) -> bool:
        return self.position_id_mode in ("transcript", "splice_aware")

    def rows_relevant(self) -> dict:
        """The options that decide the rows written (what a resumed build must match)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in RUNTIME_ONLY and f.name != "extra"}
        d["position_id_mode"] = "transcript" if self.transcript_mode else "genomic"
        return json.loads(json.dumps(d, default=list))

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return json.loads(json.dumps(d, default=list))


def config_hash(relevant: dict) -> str:
    """sha256 of the canonical JSON of ``relevant`` (sorted keys)."""
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def describe_changes(old: dict, new: dict) -> str:
    """``key: old -> new`` for every differing key, comma separated."""
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return ", ".join(parts)


class _Checker:
    @staticmethod
    def choice(name, value, allowed):
        if value not in allowed:
            raise FastbuildError(f"--{name.replace('_', '-')} {value!r} is not one of {', '.join(allowed)}")

    @staticmethod
    def positive(name, value):
        if int(value) < 1:
            raise FastbuildError(f"--{name.replace('_', '-')} must be >= 1, got {value}")

    @staticmethod
    def unit(name, value):
        if not 0.0 <= float(value) <= 1.0:
            raise FastbuildError(f"--{name.replace('_', '-')} must be within 0..1, got {value}")
