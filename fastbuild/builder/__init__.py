"""The dataset builder: selection, per-gene labelling and featurisation, streaming batch files."""

from fastbuild.builder.config import BuildConfig
from fastbuild.builder.runner import BuildResult, build_dataset

__all__ = ["BuildConfig", "BuildResult", "build_dataset"]
