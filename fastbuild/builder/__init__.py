"""The dataset builder: plan, per-gene labelling and featurisation, streaming batch files.

Modules along the data's way: :mod:`~.config` (options) -> :mod:`~.plan` (inputs, genes,
batches; with :mod:`~.inputs`, :mod:`~.splits` and :mod:`~.groups`) -> :mod:`~.engine` (the
build as a job of :mod:`fastbuild.work.protocol`: plan_build, run_build_unit, finalise_build,
build_dataset) -> :mod:`~.batch` (one batch file, the work unit) -> :mod:`~.genes` (a gene's
sequence, scores and sites) -> :mod:`~.rows` (labels, sampling, features) -> :mod:`~.columns` /
:mod:`~.writer` (Arrow, Parquet; :mod:`~.schema` declares the columns and roles);
:mod:`~.output`, :mod:`~.stats` and :mod:`~.report` publish the dataset, :mod:`~.lock` guards
its folder, :mod:`~.validate` checks it.
"""

from fastbuild.builder.config import BuildConfig
from fastbuild.builder.engine import (
    BuildResult,
    build_dataset,
    finalise_build,
    open_build_plan,
    plan_build,
    run_build_unit,
)

__all__ = ["BuildConfig", "BuildResult", "build_dataset", "finalise_build", "open_build_plan", "plan_build",
           "run_build_unit"]
