"""Choosing a base-model backend: the one place that maps a backend name to a runner.

    BACKENDS                          ("auto", "numpy", "onnx", "openvino", "torch")
    DEFAULT_BACKEND                   "auto"
    check_backend("auto", precision="float32") -> "torch" | "numpy" | ...  (the engine run)
    make_runner(model, backend="auto", threads=None, precision="float32") -> Runner
    score_sequence(model, codes_with_flank, backend=None, runner=None) -> float32 [n, 3]
    estimate_seconds(nucleotides, engine, precision="float32") -> float | None

Engines, all exact in float32 (within 1e-5 of a float64 reference):

* "numpy" (:class:`~fastbuild.basemodel.forward.NumpyRunner`): numpy + numba, always available,
  the exact reference (direct convolutions, see the README);
* "onnx" (:class:`~fastbuild.basemodel.onnx_backend.OnnxRunner`): onnxruntime on the CPU
  (optional extra ``onnx``);
* "openvino" (:class:`~fastbuild.basemodel.openvino_backend.OpenVinoRunner`): OpenVINO on the
  CPU (optional extra ``openvino``); it also runs ``precision="bf16"`` on the CPU;
* "torch" (:class:`~fastbuild.basemodel.torch_backend.TorchRunner`): PyTorch on a CUDA device
  when torch sees one, else on the CPU (optional extra ``torch``); ``precision="bf16"`` on CUDA
  only.

"auto" (the default) runs "torch" when torch is installed and sees a CUDA device
(:func:`auto_engine`); otherwise the first installed engine of :data:`AUTO_ORDER`, numpy first by
measurement (README, "Base model"): on real genes it ties OpenVINO on an Intel Xeon with
AVX-512 and beats onnxruntime 2-3x on an AMD EPYC, with no extra installed; OpenVINO is ~9%
faster only on 100-kb regions. So "auto" runs numpy on CPU-only machines; the order stays so
that an engine measured faster on real genes can be put first. With ``precision="bf16"``,
"auto" means torch on a GPU, else openvino. A runner's ``backend`` is always the engine it runs,
never "auto", so stores can record the real engine (and its ``precision``).
"""

from __future__ import annotations

import numpy as np

from fastbuild.basemodel.runner import Runner
from fastbuild.errors import FastbuildError

BACKENDS = ("auto", "numpy", "onnx", "openvino", "torch")
ENGINES = ("numpy", "onnx", "openvino", "torch")  # what runners report as their ``backend``
AUTO_ORDER = ("numpy", "openvino", "onnx")  # without a CUDA device: fastest first, as measured (README, "Base model")
GPU_ENGINE = "torch"  # what "auto" runs when torch sees a CUDA device
BF16_ENGINES = ("openvino", "torch")  # the engines that run precision "bf16" (torch on CUDA only)
DEFAULT_BACKEND = "auto"
PRECISIONS = ("float32", "bf16")

#: Measured scoring rates, scored nt/s of the 5-model 10000nt ensemble, per (engine, precision, device):
#: (rate or None when not measured yet, where and how it was measured).
THROUGHPUT = {
    ("numpy", "float32", "cpu"): (50_735, "2 vCPUs of an Intel Xeon, 100-kb regions, 2026-12-03 (docs/engines.md)"),
    ("openvino", "float32", "cpu"): (38_733, "2 vCPUs of an Intel Xeon, 100-kb regions, 2026-12-03 (docs/engines.md)"),
    ("openvino", "bf16", "cpu"): (326_337, "2 vCPUs of an Intel Xeon with AMX, 100-kb regions, 2026-12-02"),
    ("onnx", "float32", "cpu"): (31_503, "2 vCPUs of an Intel Xeon, 100-kb regions, 2026-12-02 (docs/engines.md)"),
    ("torch", "float32", "cpu"): (5_000, "2 vCPUs of an AMD EPYC shared with other jobs, 100-kb regions, torch 2.13: "
                                         "4.2k-6.7k nt/s against numpy's 14k-16k in the same runs (2026-12-04)"),
    ("torch", "float32", "cuda"): (None, "unmeasured: run scripts/device_check.sh (benchmarks/bench_gpu.py)"),
    ("torch", "bf16", "cuda"): (None, "unmeasured: run scripts/device_check.sh (benchmarks/bench_gpu.py)"),
}


def engine_available(engine: str) -> bool:
    """True when ``engine`` (one of :data:`ENGINES`) is installed here ("torch": when torch imports)."""
    if engine == "torch":
        from fastbuild.basemodel.torch_backend import torch_available

        return torch_available()
    if engine == "onnx":
        from fastbuild.basemodel.onnx_backend import onnx_available

        return onnx_available()
    if engine == "openvino":
        from fastbuild.basemodel.openvino_backend import openvino_available

        return openvino_available()
    return engine == "numpy"


def auto_engine(precision: str = "float32") -> str:
    """The engine "auto" runs at ``precision``.

    "torch" when torch is installed and sees a CUDA device (and :data:`~fastbuild.basemodel.torch_backend.DEVICE_ENV`
    is not "cpu"); otherwise "openvino" for "bf16", else the first installed engine of
    :data:`AUTO_ORDER` ("numpy"). Without GPU device files (Linux) torch is not even imported.
    """
    from fastbuild.basemodel.torch_backend import cuda_available

    if cuda_available():
        return GPU_ENGINE
    if precision != "float32":
        return "openvino"
    return next(e for e in AUTO_ORDER if engine_available(e))


def check_backend(backend: str, precision: str = "float32") -> str:
    """Fail early, with a clear message, unless ``backend`` can run here at ``precision``.

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS`.
    precision : {"float32", "bf16"}
        "bf16" runs on the openvino engine (CPU) and the torch engine (CUDA only); "auto" then
        means torch on a GPU, else openvino.

    Returns
    -------
    str
        The engine it runs: ``backend``, or for "auto" :func:`auto_engine`.

    Raises
    ------
    FastbuildError
        For an unknown name or precision, for "onnx" / "openvino" / "torch" when that engine is
        not installed (the message then says how to install it), for "bf16" on another engine,
        or for "bf16" on the torch engine without a CUDA device.
    """
    if backend not in BACKENDS:
        names = ", ".join(repr(b) for b in BACKENDS[:-1]) + f" or {BACKENDS[-1]!r}"
        raise FastbuildError(f"unknown base-model backend {backend!r} (use {names})")
    if precision not in PRECISIONS:
        raise FastbuildError(f"unknown precision {precision!r} (use {' or '.join(repr(p) for p in PRECISIONS)})")
    if backend == "auto":
        backend = auto_engine(precision)
    elif precision != "float32" and backend not in BF16_ENGINES:
        raise FastbuildError(f"precision {precision!r} needs the openvino backend (CPU) or the torch backend (CUDA); "
                             f"{backend} runs float32 only")
    if backend == "onnx":
        from fastbuild.basemodel.onnx_backend import require_onnx

        require_onnx()
    elif backend == "openvino":
        from fastbuild.basemodel.openvino_backend import require_openvino

        require_openvino()
    elif backend == "torch":
        from fastbuild.basemodel.torch_backend import check_precision, cuda_available, require_torch

        require_torch()
        if precision != "float32" and not cuda_available():
            check_precision(precision, "cpu")  # raises: bf16 needs a CUDA device
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
        CPU threads the runner uses (default: all CPUs this process may use).
    precision : {"float32", "bf16"}
        "float32" (exact, every engine) or "bf16" (openvino, or torch on CUDA; see
        :func:`check_backend`).

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
    if engine == "torch":
        from fastbuild.basemodel.torch_backend import TorchRunner

        return TorchRunner(model, threads=threads, precision=precision)
    if engine == "openvino":
        from fastbuild.basemodel.openvino_backend import OpenVinoRunner

        return OpenVinoRunner(model, threads=threads, precision=precision)
    if engine == "onnx":
        from fastbuild.basemodel.onnx_backend import OnnxRunner

        return OnnxRunner(model, threads=threads)
    from fastbuild.basemodel.forward import NumpyRunner

    return NumpyRunner(model, threads=threads)


def estimate_seconds(nucleotides: int, engine: str, precision: str = "float32",
                     device: str | None = None) -> float | None:
    """Expected seconds to score ``nucleotides`` with ``engine`` at ``precision``, from :data:`THROUGHPUT`.

    Parameters
    ----------
    nucleotides : int
        Scored nucleotides (flanks not counted).
    engine : str
        One of :data:`ENGINES` (not "auto": pass :func:`check_backend`'s answer).
    precision : {"float32", "bf16"}
    device : {"cpu", "cuda"}, optional
        For "torch": where it runs (default: "cuda" when torch sees a CUDA device, else "cpu");
        the other engines run on the CPU.

    Returns
    -------
    float or None
        None where no rate was measured yet (the torch engine on GPUs: ``scripts/device_check.sh``
        measures it). The rates are those of the 5-model 10000nt ensemble on the machine
        :data:`THROUGHPUT` names (2 vCPUs for the CPU engines), so this is an order of magnitude
        for other models and machines, not a promise.

    Raises
    ------
    FastbuildError
        For an unknown engine or precision.
    """
    if engine not in ENGINES:
        raise FastbuildError(f"unknown engine {engine!r} (use {', '.join(repr(e) for e in ENGINES)})")
    if precision not in PRECISIONS:
        raise FastbuildError(f"unknown precision {precision!r} (use {' or '.join(repr(p) for p in PRECISIONS)})")
    if device is None:
        from fastbuild.basemodel.torch_backend import cuda_available

        device = "cuda" if engine == "torch" and cuda_available() else "cpu"
    rate = THROUGHPUT.get((engine, precision, device), (None, ""))[0]
    return None if rate is None else max(0, int(nucleotides)) / rate


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
