"""fastbuild: position-centric splice-site training datasets, fast and memory-bounded.

Import names: ``fastbuild`` (this package: genome access, annotation, the builder and its
command line) and ``fastbuild_kernels`` (Numba kernels over numpy arrays, usable on their own;
its source is the top-level ``kernels/`` folder).
The distribution is called ``fastbuild-splice``.

The command line is a thin layer over the library's protocol steps (:func:`plan_build`,
:func:`run_build_unit`, :func:`finalise_build`, :func:`build_dataset`; the same for predict,
:mod:`fastbuild.predict`)::

    import fastbuild
    result = fastbuild.build_dataset(output_dir=None)   # the embedded demo, in memory
    df = result.to_polars()
"""

from fastbuild._version import __version__
from fastbuild.lazy import lazy_exports

_BUILDER = ("BuildConfig", "BuildResult", "build_dataset", "finalise_build", "open_build_plan", "plan_build",
            "run_build_unit")
# predict(config) itself is fastbuild.predict.predict (the name fastbuild.predict is its module)
_PREDICT = ("PredictConfig", "finalise_predict", "open_predict_plan", "plan_predict", "run_predict_unit")
__all__ = ["__version__", *_BUILDER, *_PREDICT]
# the builder and the base model pull in numba kernels: import them on first use only
__getattr__, __dir__ = lazy_exports(__name__, {**dict.fromkeys(_BUILDER, "builder"),
                                               **dict.fromkeys(_PREDICT, "predict")})
