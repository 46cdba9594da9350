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

from fastbuild.lazy import lazy_exports

# imported on first use: the engine pulls in numba, polars and pyarrow, which a parser never needs
_WHERE = {"BuildConfig": "config", "BuildResult": "engine", "build_dataset": "engine", "finalise_build": "engine",
          "open_build_plan": "engine", "plan_build": "engine", "run_build_unit": "engine"}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
