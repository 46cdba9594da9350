"""Choosing a base-model backend: the one place that maps a backend name to a runner.

    BACKENDS                          ("auto", "numpy", "onnx", "openvino")
    DEFAULT_BACKEND                   "auto"
    check_backend("auto", precision="float32") -> "openvino" | "onnx" | "numpy"  (the engine run)
    make_runner(model, backend="auto", threads=None, precision="float32") -> Runner
    score_sequence(model, codes_with_flank, backend=None, runner=None) -> float32 [n, 3]

Engines, all exact in float32 (within 1e-5 of a float64 reference):

* "numpy" (:class:`~fastbuild.basemodel.forward.NumpyRunner`): numpy + numba, always available,
  the exact reference (direct convolutions, see the README);
* "onnx" (:class:`~fastbuild.basemodel.onnx_backend.OnnxRunner`): onnxruntime on the CPU
  (optional extra ``onnx``);
* "openvino" (:class:`~fastbuild.basemodel.openvino_backend.OpenVinoRunner`): OpenVINO on the
  CPU (optional extra ``openvino``); it alone also runs ``precision="bf16"``.

"auto" (the default) runs the first installed engine of :data:`AUTO_ORDER`, numpy first by
measurement (README, "Base model"): on real genes it ties OpenVINO on an Intel Xeon with
AVX-512 and beats onnxruntime 2-3x on an AMD EPYC, with no extra installed; OpenVINO is ~9%
faster only on 100-kb regions. So "auto" runs numpy; the order stays so that an engine
measured faster on real genes can be put first. A runner's ``backend`` is always the engine
it runs, never "auto", so stores can record the real engine.
"""

from __future__ import annotations

import numpy as np

from fastbuild.basemodel.runner import Runner
from fastbuild.errors import FastbuildError

BACKENDS = ("auto", "numpy", "onnx", "openvino")
ENGINES = ("numpy", "onnx", "openvino")  # what runners report as their ``backend``
AUTO_ORDER = ("numpy", "openvino", "onnx")  # fastest first, as measured (README, "Base model")
DEFAULT_BACKEND = "auto"
PRECISIONS = ("float32", "bf16")


def engine_available(engine: str) -> bool:
    """True when ``engine`` (one of :data:`ENGINES`) is installed here."""
    if engine == "onnx":
        from fastbuild.basemodel.onnx_backend import onnx_available

        return onnx_available()
    if engine == "openvino":
        from fastbuild.basemodel.openvino_backend import openvino_available

        return openvino_available()
    return engine == "numpy"


def check_backend(backend: str, precision: str = "float32") -> str:
    """Fail early, with a clear message, unless ``backend`` can run here at ``precision``.

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS`.
    precision : {"float32", "bf16"}
        "bf16" runs on the openvino engine only ("auto" then means "openvino").

    Returns
    -------
    str
        The engine it runs: ``backend``, or for "auto" the fastest installed engine
        (:data:`AUTO_ORDER`; "numpy" is always installed).

    Raises
    ------
    FastbuildError
        For an unknown name or precision, for "onnx" / "openvino" when that engine is not
        installed (the message then says how to install it), or for "bf16" on another engine.
    """
    if backend not in BACKENDS:
        names = ", ".join(repr(b) for b in BACKENDS[:-1]) + f" or {BACKENDS[-1]!r}"
        raise FastbuildError(f"unknown base-model backend {backend!r} (use {names})")
    if precision not in PRECISIONS:
        raise FastbuildError(f"unknown precision {precision!r} (use {' or '.join(repr(p) for p in PRECISIONS)})")
    if precision != "float32":
        if backend not in ("auto", "openvino"):
            raise FastbuildError(f"precision {precision!r} needs the openvino backend ({backend} runs float32 only)")
        backend = "openvino"
    if backend == "auto":
        return next(e for e in AUTO_ORDER if engine_available(e))
    if backend == "onnx":
        from fastbuild.basemodel.onnx_backend import require_onnx

        require_onnx()
    elif backend == "openvino":
        from fastbuild.basemodel.openvino_backend import require_openvino

        require_openvino()
    return backend


def make_runner(model, backend: str = DEFAULT_BACKEND, threads: int | None = None,
                precision: str = "float32") -> Runner:
    """A runner of ``model`` on ``backend``.

    Parameters
    ----------
    model : Model, Network or list of Network
    backend : str
        One of :data:`BACKENDS` ("auto": see :func:`check_backend`).
    threads : int, optional
        Threads the runner uses (default: all CPUs this process may use).
    precision : {"float32", "bf16"}
        "float32" (exact, every engine) or "bf16" (openvino only; "auto" then means openvino).

    Returns
    -------
    Runner
        Its ``backend`` is the engine it runs. Close it when done (or use it as a context manager).

    Raises
    ------
    FastbuildError
        See :func:`check_backend`; also for a precision the engine cannot run.
    """
    engine = check_backend(backend, precision)
    if engine == "openvino":
        from fastbuild.basemodel.openvino_backend import OpenVinoRunner

        return OpenVinoRunner(model, threads=threads, precision=precision)
    if engine == "onnx":
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
        Backend of the runner made for this call (default "auto"); with ``runner`` given, a
        name other than "auto" and the runner's engine is an error.
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
        if backend not in (None, "auto", runner.backend):
            check_backend(backend)
            raise FastbuildError(f"backend {backend!r} asked for, but the runner given runs {runner.backend!r}")
        if not runner.is_bound_to(model):
            raise FastbuildError("the runner given runs a different model")
        return runner.score_sequence(codes_with_flank)
    with make_runner(model, backend or DEFAULT_BACKEND) as own:
        return own.score_sequence(codes_with_flank)
