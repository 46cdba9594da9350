"""Scoring configuration: every option of ``fastbuild predict`` (:class:`PredictConfig`), declared once.

Each field is declared with :func:`fastbuild.options.option` (flag, help, default, check);
``fastbuild predict --help`` is generated from it. Light on purpose: the parser imports no engine.
The steps that run it are :mod:`fastbuild.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastbuild.basemodel.backends import BACKENDS, DEFAULT_BACKEND, PRECISIONS
from fastbuild.basemodel.runner import MAX_THREADS
from fastbuild.checks import positive, whole
from fastbuild.errors import FastbuildError
from fastbuild.options import RunOptions, check_fields, option, replace_flat
from fastbuild.specs import SCORELESS_POLICIES, InputSpec, SelectionSpec

__all__ = ["PredictConfig", "parse_resources"]

SCORING = "scoring"


def parse_resources(items) -> dict:
    """``["GPU=1"]`` -> ``{"GPU": 1.0}`` (``--dask-resources``)."""
    out = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise FastbuildError(f"--dask-resources: {item!r} is not NAME=NUMBER (e.g. GPU=1)")
    return out


def _threads(name: str, value) -> None:
    positive(name, value, MAX_THREADS)


def _mantissa_bits(name: str, value) -> None:
    whole(name, value, 0, 23)


def _scoreless(name: str, selection: SelectionSpec) -> None:
    if selection.subset_policy not in SCORELESS_POLICIES:
        raise FastbuildError(f"--subset-policy {selection.subset_policy!r} needs scores; predict offers "
                             f"{', '.join(SCORELESS_POLICIES)}")


@dataclass(frozen=True)
class PredictConfig:
    """What to score (genome, annotation, genes), with which model, into which store, and how."""

    inputs: InputSpec = field(default_factory=InputSpec)
    model: str | None = option(
        None, "'spliceai' (weights of the optional extra fastbuild-splice[spliceai]) or SpliceAI .h5 / OpenSpliceAI "
              ".pt files, or a folder of them (an ensemble is averaged)", cli={"required": True})
    scores: str | None = option(None, "score store folder to create or extend", cli={"required": True})
    selection: SelectionSpec = option(default_factory=lambda: SelectionSpec(subset_policy="all"), check=_scoreless,
                                      overrides={"subset_policy": {"cli": {"choices": SCORELESS_POLICIES}}})
    overwrite: bool = option(False, "replace a store written by a different model", group=SCORING)
    threads: int | None = option(None, "threads for the matrix products (default: all cores, shared out among "
                                       "local worker processes)", group=SCORING, check=_threads)
    backend: str = option(
        DEFAULT_BACKEND, "engine of the forward pass, all exact in float32: 'auto' runs torch on a CUDA GPU when "
                         "torch sees one, else the measured CPU default, numpy (numpy/numba direct convolutions, "
                         "always installed); openvino (extra fastbuild-splice[openvino]), onnx (onnxruntime, extra "
                         "fastbuild-splice[onnx]) and torch (extra fastbuild-splice[torch]; CUDA or CPU) are optional "
                         "engines; see docs/engines.md", group=SCORING, choices=BACKENDS)
    precision: str = option(
        "float32", "arithmetic of the forward pass: float32 (exact, every engine) or bf16 (opt-in: the torch "
                   "engine on a CUDA GPU, or the openvino engine on CPUs with AVX-512 BF16 or AMX; faster but not "
                   "exact, see docs/engines.md); a store holds one precision only", group=SCORING, choices=PRECISIONS)
    mantissa_bits: int = option(23, "float32 mantissa bits kept in the store (23 exact; 10 ~ float16 precision, "
                                    "smaller files)", group=SCORING, check=_mantissa_bits)
    chunk_bases: int = option(2_000_000, "most bases of one unit (score-store chunk)", check=positive,
                              command_line=False)
    chunk_genes: int = option(100, "most genes of one unit (score-store chunk)", check=positive, command_line=False)
    merge_gap: int | None = option(None, "same-strand genes closer than this share a pass (default: the model's "
                                         "flank)", command_line=False)
    dask_resources: dict = option(
        default_factory=dict, help="Dask worker resources each scoring unit asks for, e.g. GPU=1 (only workers "
                                   "started with --resources GPU=1 take them; never needed)",
        group="where the work runs", parse=parse_resources, cli={"nargs": "+", "metavar": "NAME=N"})
    run: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        check_fields(self)

    def scoring_options(self):
        """The :class:`~fastbuild.basemodel.scoring.ScoringOptions` of this configuration."""
        from fastbuild.basemodel.scoring import ScoringOptions

        return ScoringOptions(self.mantissa_bits, self.merge_gap, self.backend, self.threads, self.precision,
                              self.chunk_bases, self.chunk_genes, dict(self.dask_resources))

    def replace(self, **options) -> PredictConfig:
        """A copy with flat options changed (``jobs``, ``n_genes``...), each routed to the part holding it."""
        return replace_flat(self, options, "predict")
