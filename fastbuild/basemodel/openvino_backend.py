"""Optional OpenVINO (CPU) backend for the base-model forward pass (exact in float32; opt-in bf16).

The graph is the onnx backend's (:func:`fastbuild.basemodel.onnx_backend.build_onnx_model`, built
from the very same folded :class:`~fastbuild.basemodel.models.Network` weights, all members
averaged inside it), read by OpenVINO's ONNX front end and compiled for the CPU plugin
(oneDNN "brgconv" AVX-512 / AVX2 convolutions with bias, activation and the residual ``Add``
fused). Dilated convolutions are written in the "plain" form (one dilated ``Conv`` each): on
OpenVINO it is faster than the reshaped "image" / "pairs" forms that suit onnxruntime.

OpenVINO runs fastest on static shapes (a dynamic length is many times slower), so a compiled
model has one input length. The scored lengths that get one are *buckets*: ``segment``,
``segment/2``, ``segment/4``, ... down to ``min_bucket`` (:func:`length_buckets`; 1,562 to
50,000 by default: on an Intel Xeon with AVX-512, 100-kb regions ran at 38.7k nt/s in 50-kb
pieces, 35-37k in 25-80-kb pieces and 25.9k in one 100-kb piece). A sequence is scored in pieces
of at most ``segment`` outputs (each with both flanks), each piece padded with N (code 4) up to
its bucket and the padded outputs dropped (the real outputs never see the padding: valid
convolutions only). :func:`plan_buckets` picks the cheapest pieces, counting each inference as
its bucket plus both flanks (a 51-kb gene with the 10000nt models and 100-kb buckets: 50,000 +
1,562 rather than 100,000). Each bucket is compiled on first use (about 1 s for the 5-model
SpliceAI ensemble) and kept in a least-recently-used cache of at most ``max_compiled`` compiled
models (default 8: every default bucket; with 100-kb buckets all seven took about 1 GB for the
5-model 10000nt ensemble, 240 MB of it the 100-kb bucket).

Precision: OpenVINO on CPUs with AVX-512-BF16 or AMX would default to bfloat16; the runner sets
``INFERENCE_PRECISION_HINT`` explicitly: "f32" for ``precision="float32"`` (the default; equal
to the float64 reference within 1e-5), "bf16" for ``precision="bf16"`` (faster where the CPU
has bf16 units, *not* exact). The runner reports ``backend = "openvino"`` and ``precision``
("float32" or "bf16") so score stores can record what produced them.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from fastbuild.basemodel.onnx_backend import _one_hot, build_onnx_model, length_quantum, require_onnx
from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError

INSTALL_HINT = (
    "the openvino backend needs openvino and onnx: install fastbuild-splice[openvino] (pip install openvino onnx)"
)

#: precision name (what runners and stores report) -> OpenVINO INFERENCE_PRECISION_HINT
PRECISIONS = {"float32": "f32", "bf16": "bf16"}
DEFAULT_OPENVINO_SEGMENT = 50_000  # outputs per inference at most (plus 2*flank inputs); measured, see above
MIN_BUCKET = 1_000  # smallest bucket of scored lengths
DEFAULT_MAX_COMPILED = 8  # compiled buckets kept per runner (least recently used dropped)
PERFORMANCE_HINTS = ("LATENCY", "THROUGHPUT")


def require_openvino() -> None:
    """Raise FastbuildError with the install hint unless openvino and onnx import."""
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise FastbuildError(f"{INSTALL_HINT} ({exc})") from None
    require_onnx(runtime=False, hint=INSTALL_HINT)


def openvino_available() -> bool:
    """True when openvino and onnx are installed (the openvino backend can run)."""
    try:
        require_openvino()
        return True
    except FastbuildError:
        return False


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a FastbuildError naming them."""
    if precision not in PRECISIONS:
        names = " or ".join(repr(p) for p in PRECISIONS)
        raise FastbuildError(f"unknown precision {precision!r} for the openvino backend (use {names})")
    return precision


def length_buckets(segment: int, quantum: int = 1, min_bucket: int = MIN_BUCKET) -> list[int]:
    """Scored lengths that get a compiled model, ascending: ``segment`` halved while it stays
    >= ``min_bucket``, each rounded up to a multiple of ``quantum``."""
    sizes, b = set(), max(1, int(segment))
    while True:
        sizes.add(-(-b // quantum) * quantum)
        if b // 2 < max(1, min_bucket):
            break
        b //= 2
    return sorted(sizes)


def plan_buckets(n: int, buckets: list[int], overhead: int) -> list[tuple[int, int]]:
    """Cheapest cover of ``n`` outputs by ``buckets`` (ascending): (outputs, bucket) per inference.

    An inference of bucket ``b`` costs ``b + overhead`` (the flanks). At each step the rest is
    either padded into the smallest bucket that holds it, or the largest bucket that fits is
    filled and the remainder planned the same way, whichever costs less in total."""
    if n <= 0:
        return []
    fits = [b for b in buckets if b <= n]
    holds = [b for b in buckets if b >= n]
    pad = [(n, holds[0])] if holds else None
    if not fits:
        return pad
    head = fits[-1]
    split = [(head, head), *plan_buckets(n - head, buckets, overhead)]
    if pad is None or sum(b + overhead for _, b in split) < holds[0] + overhead:
        return split
    return pad


def _compile_config(threads: int, precision: str, hint: str) -> dict:
    return {
        "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
        "INFERENCE_NUM_THREADS": int(threads),
        "PERFORMANCE_HINT": hint,
        "NUM_STREAMS": 1,
    }


class OpenVinoRunner(Runner):
    """The OpenVINO (CPU) backend: one compiled model per length bucket holds the whole ensemble.

    Parameters
    ----------
    model : Model, Network or list of Network
        The ensemble (members averaged inside the graph).
    threads : int, optional
        OpenVINO inference threads (default: all CPUs this process may use).
    precision : {"float32", "bf16"}
        Inference precision: "float32" (default; exact, within 1e-5 of the float64 reference)
        or "bf16" (OpenVINO's bfloat16 inference; faster on CPUs with bf16 units, not exact).
    segment : int
        Most outputs per inference (the largest bucket).
    min_bucket : int
        Smallest bucket (scored length) is the last halving of ``segment`` that stays >= this.
    max_compiled : int
        Compiled buckets kept at once (least recently used dropped; each costs a compile of
        about 1 s when it is needed again).
    form : str or dict
        How dilated convolutions are written (:func:`fastbuild.basemodel.onnx_backend.conv_plan`;
        "plain" is fastest on OpenVINO).
    hint : {"LATENCY", "THROUGHPUT"}
        OpenVINO PERFORMANCE_HINT (one stream either way: segments run one after another).

    Attributes
    ----------
    backend : str
        "openvino".
    precision : str
        "float32" or "bf16", as asked (and as compiled).
    buckets : list of int
        Scored lengths that get a compiled model (see :func:`length_buckets`).

    Raises
    ------
    FastbuildError
        When openvino or onnx is not installed (with the install hint), or for an unknown
        precision or hint.
    """

    backend = "openvino"

    def __init__(
        self,
        model,
        threads: int | None = None,
        precision: str = "float32",
        segment: int = DEFAULT_OPENVINO_SEGMENT,
        min_bucket: int = MIN_BUCKET,
        max_compiled: int = DEFAULT_MAX_COMPILED,
        form="plain",
        hint: str = "LATENCY",
    ):
        require_openvino()
        import openvino as ov

        self.precision = check_precision(precision)
        if hint not in PERFORMANCE_HINTS:
            raise FastbuildError(f"unknown OpenVINO performance hint {hint!r} (use {' or '.join(PERFORMANCE_HINTS)})")
        self.networks = networks_of(model)
        if not self.networks:
            raise FastbuildError("no networks to export")
        self.flank = self.networks[0].flank
        self.threads = int(threads or default_threads())
        self.form, self.hint = form, hint
        quantum = 1
        for net in self.networks:
            quantum = int(np.lcm(quantum, length_quantum(net, form)))
        self.quantum = quantum
        self.buckets = length_buckets(segment, quantum, min_bucket)
        self.segment = self.buckets[-1]
        self.max_compiled = max(1, int(max_compiled))
        self._core = ov.Core()
        proto = build_onnx_model(self.networks, form=form)
        self._model = self._core.read_model(proto.SerializeToString(), b"")
        self._compiled: OrderedDict[int, tuple] = OrderedDict()

    def close(self) -> None:
        """Drop the compiled models (idempotent)."""
        self._compiled = None
        self._model = None

    def compiled_buckets(self) -> list[int]:
        """Buckets compiled now, least recently used first."""
        return list(self._compiled or ())

    def _request(self, bucket: int):
        """The infer request of ``bucket`` (compiled on first use; least recently used dropped)."""
        hit = self._compiled.get(bucket)
        if hit is not None:
            self._compiled.move_to_end(bucket)
            return hit[1]
        while len(self._compiled) >= self.max_compiled:
            self._compiled.popitem(last=False)
        m = self._model.clone()
        m.reshape({"x": [1, 4, bucket + 2 * self.flank]})
        config = _compile_config(self.threads, self.precision, self.hint)
        compiled = self._core.compile_model(m, "CPU", config)
        request = compiled.create_infer_request()
        self._compiled[bucket] = (compiled, request)
        return request

    def _run(self, part: np.ndarray, n: int, bucket: int) -> np.ndarray:
        """Codes with flanks (n <= bucket outputs) -> mean probabilities [n, 3] float32."""
        if bucket > n:  # pad with N up to the bucket; the padded outputs are dropped
            part = np.concatenate([part, np.full(bucket - n, 4, np.uint8)])
        request = self._request(bucket)
        request.infer({"x": _one_hot(part, False)})
        y = request.get_output_tensor(0).data
        return np.ascontiguousarray(y.reshape(3, -1)[:, :n].T, dtype=np.float32)

    def plan(self, n: int) -> list[tuple[int, int]]:
        """How ``n`` outputs are scored: (outputs, bucket) per inference, in order.

        Each inference costs about its bucket plus both flanks; the plan is the cheapest cover
        of ``n`` by buckets that either takes the largest bucket that fits and plans the rest,
        or pads the whole remainder into the smallest bucket that holds it (see
        :func:`plan_buckets`)."""
        return plan_buckets(n, self.buckets, 2 * self.flank)

    def score_sequence(self, codes_with_flank) -> np.ndarray:
        """Ensemble-averaged scores; see :meth:`fastbuild.basemodel.runner.Runner.score_sequence`.

        Scored in the pieces of :meth:`plan` (N padding up to each piece's bucket)."""
        if self._compiled is None:
            raise FastbuildError("this openvino runner has been closed")
        flank = self.flank
        codes, n = check_codes(codes_with_flank, flank)
        out = np.zeros((n, 3), dtype=np.float32)
        s = 0
        for k, bucket in self.plan(n):
            out[s : s + k] = self._run(codes[s : s + k + 2 * flank], k, bucket)
            s += k
        return out
