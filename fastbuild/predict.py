"""``fastbuild predict`` as a job of the run protocol: its configuration and one function per step.

:class:`PredictConfig` holds every option (each declared once with :func:`fastbuild.options.option`;
``fastbuild predict --help`` is generated from it). The steps::

    job = plan_predict(config)         # --plan-only: genes -> chunk units, recorded in STORE/plans/
    job = open_predict_plan(config)    # the plan recorded for this configuration
    run_predict_unit(job, j)           # --unit J (idempotent; nothing when the chunk exists)
    finalise_predict(job)              # --finalise: index every chunk once all are written
    predict(config)                    # all three, the units on an executor

The model is loaded once in this process; worker processes load it once each, by path.
:class:`PredictConfig` itself lives in :mod:`fastbuild.basemodel.config` (beside the engines it names).
"""

from __future__ import annotations

from contextlib import contextmanager

import polars as pl

from fastbuild.basemodel.config import PredictConfig
from fastbuild.basemodel.scoring import ScoringJob, open_scoring_plan, plan_scoring, run_scoring
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome
from fastbuild.reference import load_reference, resolve_inputs
from fastbuild.selection import choose_genes
from fastbuild.work import Executor, make_executor, protocol

__all__ = ["PredictConfig", "finalise_predict", "open_predict_plan", "plan_predict", "predict", "run_predict_unit"]


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
        return plan_scoring(genome, genes, config.model, config.scores, config.scoring_options(), config.overwrite)


def open_predict_plan(config: PredictConfig | None = None, **options) -> ScoringJob:
    """The scoring plan :func:`plan_predict` recorded for this configuration (FastbuildError when none)."""
    config = _config(config, options)
    with _selected_genes(config) as (genome, genes):
        return open_scoring_plan(genome, genes, config.model, config.scores, config.scoring_options())


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
