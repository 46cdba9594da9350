"""Choosing a base-model backend: the one place that maps a backend name to a runner.

    BACKENDS                                        ("numpy", "onnx")
    make_runner(model, backend="numpy", threads=None)          -> Runner
    score_sequence(model, codes_with_flank, backend=None, runner=None) -> float32 [n, 3]

"numpy" (:class:`~fastbuild.basemodel.forward.NumpyRunner`) is the exact numpy + numba forward
pass; "onnx" (:class:`~fastbuild.basemodel.onnx_backend.OnnxRunner`) runs onnxruntime on the CPU
(optional extra ``onnx``; equal to numpy within 1e-4).
"""

from __future__ import annotations

import numpy as np

from fastbuild.basemodel.runner import Runner
from fastbuild.errors import FastbuildError

BACKENDS = ("numpy", "onnx")
DEFAULT_BACKEND = "numpy"


def check_backend(backend: str) -> str:
    """Fail early, with a clear message, unless ``backend`` can run here.

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS`.

    Returns
    -------
    str
        ``backend``.

    Raises
    ------
    FastbuildError
        For an unknown name, or for "onnx" when onnx / onnxruntime are not installed (the
        message then says how to install them).
    """
    if backend not in BACKENDS:
        names = " or ".join(repr(b) for b in BACKENDS)
        raise FastbuildError(f"unknown base-model backend {backend!r} (use {names})")
    if backend == "onnx":
        from fastbuild.basemodel.onnx_backend import require_onnx

        require_onnx()
    return backend


def make_runner(model, backend: str = DEFAULT_BACKEND, threads: int | None = None) -> Runner:
    """A runner of ``model`` on ``backend``.

    Parameters
    ----------
    model : Model, Network or list of Network
    backend : str
        One of :data:`BACKENDS`.
    threads : int, optional
        Threads the runner uses (default: all CPUs this process may use).

    Returns
    -------
    Runner
        Close it when done (or use it as a context manager).

    Raises
    ------
    FastbuildError
        See :func:`check_backend`.
    """
    check_backend(backend)
    if backend == "onnx":
        from fastbuild.basemodel.onnx_backend import OnnxRunner

        return OnnxRunner(model, threads=threads)
    from fastbuild.basemodel.forward import NumpyRunner

    return NumpyRunner(model, threads=threads)


def score_sequence(model, codes_with_flank, backend: str | None = None, runner: Runner | None = None) -> np.ndarray:
    """Ensemble-averaged scores for a sequence that already carries the model's flanks.

    Parameters
    ----------
    model : Model, Network or list of Network
    codes_with_flank : array_like of uint8
        Codes (A=0, C=1, G=2, T=3, other=4) of length ``n + 2*flank``, in transcript orientation.
    backend : str, optional
        Backend of the runner made for this call (default "numpy"); ignored when ``runner`` is
        given, except that a different name is an error.
    runner : Runner, optional
        A runner of ``model`` to use (and keep open): saves making one per call.

    Returns
    -------
    numpy.ndarray
        float32 ``[n, 3]`` (neither, acceptor, donor).

    Raises
    ------
    FastbuildError
        For an unknown or unavailable backend, a runner of another model or backend, or a
        sequence shorter than both flanks.
    """
    if runner is not None:
        if backend is not None and backend != runner.backend:
            check_backend(backend)
            raise FastbuildError(f"backend {backend!r} asked for, but the runner given runs {runner.backend!r}")
        if not runner.is_bound_to(model):
            raise FastbuildError("the runner given runs a different model")
        return runner.score_sequence(codes_with_flank)
    with make_runner(model, backend or DEFAULT_BACKEND) as own:
        return own.score_sequence(codes_with_flank)
