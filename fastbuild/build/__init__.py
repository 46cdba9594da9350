"""The dataset builder: selection, per-gene labelling and featurisation, streaming batch files."""

from fastbuild.build.config import BuildConfig
from fastbuild.build.runner import BuildResult, build_dataset

__all__ = ["BuildConfig", "BuildResult", "build_dataset"]
