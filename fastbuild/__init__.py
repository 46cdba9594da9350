"""fastbuild: position-centric splice-site training datasets, fast and memory-bounded.

Import names: ``fastbuild`` (this package: genome access, annotation, the builder and its
command line) and ``fastbuild_kernels`` (Numba kernels over numpy arrays, usable on their own;
its source is the top-level ``kernels/`` folder).
The distribution is called ``fastbuild-splice``.

The command line is a thin layer over :func:`build_dataset`::

    import fastbuild
    result = fastbuild.build_dataset(output_dir=None)   # the embedded demo, in memory
    df = result.to_polars()
"""

from fastbuild._version import __version__

__all__ = ["BuildConfig", "BuildResult", "__version__", "build_dataset"]


def __getattr__(name):
    # the builder pulls in numba kernels; import it on first use only
    if name in ("BuildConfig", "BuildResult", "build_dataset"):
        from fastbuild import builder

        return getattr(builder, name)
    raise AttributeError(f"module 'fastbuild' has no attribute {name!r}")
