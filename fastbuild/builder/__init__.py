"""The dataset builder: plan, per-gene labelling and featurisation, streaming batch files.

Modules along the data's way: :mod:`~.config` (options) -> :mod:`~.plan` (inputs, genes,
batches; with :mod:`~.inputs`) -> :mod:`~.workers` (which process builds which batch) ->
:mod:`~.batch` (one batch file) -> :mod:`~.genes` (a gene's sequence, scores and sites) ->
:mod:`~.rows` (labels, sampling, features) -> :mod:`~.columns` / :mod:`~.writer` (Arrow,
Parquet) ; :mod:`~.output` and :mod:`~.report` publish the dataset, :mod:`~.validate` checks it.
"""

from fastbuild.builder.config import BuildConfig
from fastbuild.builder.engine import BuildResult, build_dataset

__all__ = ["BuildConfig", "BuildResult", "build_dataset"]
