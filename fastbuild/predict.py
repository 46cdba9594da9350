"""``fastbuild predict`` as a job of the run protocol: its configuration and one function per step.

:class:`PredictConfig` holds every option (each declared once with :func:`fastbuild.options.option`;
``fastbuild predict --help`` is generated from it). The steps::

    job = plan_predict(config)         # --plan-only: genes -> chunk units, recorded in STORE/plans/
    job = open_predict_plan(config)    # the plan recorded for this configuration
    run_predict_unit(job, j)           # --unit J (idempotent; nothing when the chunk exists)
    finalise_predict(job)              # --finalise: index every chunk once all are written
    predict(config)                    # all three, the units on an executor

The model is loaded once in this process; worker processes load it once each, by path.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl

from fastbuild.basemodel.backends import BACKENDS, DEFAULT_BACKEND, PRECISIONS
from fastbuild.basemodel.runner import MAX_THREADS
from fastbuild.basemodel.scoring import ScoringJob, ScoringOptions, open_scoring_plan, plan_scoring, run_scoring
from fastbuild.checks import positive, whole
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.options import RunOptions, check_fields, option, replace_flat
from fastbuild.reference import InputSpec, load_reference, resolve_inputs
from fastbuild.selection import SCORELESS_POLICIES, SelectionSpec, choose_genes
from fastbuild.work import Executor, make_executor, protocol

__all__ = ["PredictConfig", "finalise_predict", "open_predict_plan", "parse_resources", "plan_predict", "predict",
           "run_predict_unit"]

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
        DEFAULT_BACKEND, "engine of the forward pass, all exact in float32: 'auto' runs the measured default, numpy "
                         "(numpy/numba direct convolutions, always installed); openvino (extra "
                         "fastbuild-splice[openvino]) and onnx (onnxruntime, extra fastbuild-splice[onnx]) are "
                         "optional engines; see docs/engines.md", group=SCORING, choices=BACKENDS)
    precision: str = option(
        "float32", "arithmetic of the forward pass: float32 (exact, every engine) or bf16 (opt-in: the openvino "
                   "engine on CPUs with AVX-512 BF16 or AMX; faster but not exact, see docs/engines.md); a store "
                   "holds one precision only", group=SCORING, choices=PRECISIONS)
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

    def replace(self, **options) -> PredictConfig:
        """A copy with flat options changed (``jobs``, ``n_genes``...), each routed to the part holding it."""
        return replace_flat(self, options, "predict")

    @property
    def scoring_options(self) -> ScoringOptions:
        return ScoringOptions(self.mantissa_bits, self.merge_gap, self.backend, self.threads, self.precision,
                              self.chunk_bases, self.chunk_genes, dict(self.dask_resources))


def _config(config: PredictConfig | None, options: dict) -> PredictConfig:
    config = (config or PredictConfig()).replace(**options)
    if config.model is None or config.scores is None:
        raise FastbuildError("predict needs a model (--model) and a score store (--scores)")
    return config


@contextmanager
def _selected_genes(config: PredictConfig):
    """The genome (open) and the selected genes of the configuration."""
    inputs = resolve_inputs(config.inputs, config.scores, config.model)
    with Genome(inputs.fasta) as genome:
        ann = load_reference(inputs, config.inputs, genome)
        sel = choose_genes(config.selection, ann.genes, ann.genes["gene_id"].to_list())
        yield genome, ann.genes.filter(pl.col("gene_id").is_in(sel.gene_ids))


def plan_predict(config: PredictConfig | None = None, **options) -> ScoringJob:
    """Select genes, load the model, and plan scoring the ones the store lacks (``--plan-only``)."""
    config = _config(config, options)
    with _selected_genes(config) as (genome, genes):
        return plan_scoring(genome, genes, config.model, config.scores, config.scoring_options, config.overwrite)


def open_predict_plan(config: PredictConfig | None = None, **options) -> ScoringJob:
    """The scoring plan :func:`plan_predict` recorded for this configuration (FastbuildError when none)."""
    config = _config(config, options)
    with _selected_genes(config) as (genome, genes):
        return open_scoring_plan(genome, genes, config.model, config.scores, config.scoring_options)


def run_predict_unit(job: ScoringJob, number: int) -> dict:
    """Score unit ``number`` (1-based) of a recorded plan (``--unit J``); nothing when its chunk exists.

    Returns ``unit``, ``units``, ``already_finished``, ``file`` and ``genes``.
    """
    done = protocol.run_unit(job, number)
    done.pop("result")
    return {**done, "genes": len(job.units[done["unit"] - 1]["genes"])}


def finalise_predict(job: ScoringJob) -> dict:
    """Index every chunk of the plan (``--finalise``); refuses, naming the chunks not written."""
    return protocol.finalise(job)


def predict(config: PredictConfig | None = None, *, executor: Executor | None = None, client=None,
            **options) -> dict:
    """Score the selected genes the store lacks: plan, run every unit, finalise (a rerun resumes).

    Returns the summary of :func:`fastbuild.basemodel.score_genes`.
    """
    config = _config(config, options)
    job = plan_predict(config)
    run = config.run
    executor = executor or make_executor(run.jobs, dask_scheduler=run.dask_scheduler,
                                         scheduler_file=run.scheduler_file, client=client)
    return run_scoring(job, executor, run.progress)
