"""Optional onnxruntime (CPU) backend for the base-model forward pass.

The ONNX graph is built from the very same folded :class:`~fastbuild.basemodel.models.Network`
weights the numpy path uses (no other weight source), with the ``onnx`` helper API:

* input ``x``: one-hot codes ``[N, 4, 1, L]`` float32 (code 4 = N is the zero vector, so the 1x1
  input convolution gives its bias, as in the numpy path's lookup table);
* every convolution is a "valid" (unpadded) ``Conv``; the 1-D sequence is laid out as a 2-D image
  of height 1 (``[N, C, 1, L]``, kernels ``[C_out, C_in, 1, W]``, ``dilations=[1, D]``), which
  lets onnxruntime's layout optimiser use its blocked NCHWc convolution kernels (1-D ``Conv``
  does not get them and is much slower);
* BatchNorm-1 of each residual unit is ``Mul``/``Add`` by the folded scale/shift, BatchNorm-2 is
  already folded into conv1; ``Relu`` or ``LeakyRelu(alpha=slope)``;
* the residual stream is cropped with ``Slice`` before each residual ``Add`` (valid convolutions
  shrink it), the skip 1x1 convolutions see the stream cropped to the scored centre and are
  summed; final 1x1 ``Conv`` to 3 channels and ``Softmax`` over channels;
* the ensemble members are averaged inside the graph (one session for all members).

Output ``y``: ``[N, 3, 1, L - 2*flank]``.

Long sequences are scored in segments of ``segment`` outputs (plus both flanks); each segment is
one ``run`` of batch size 1, so the flank is recomputed only once per segment (the default
segment keeps that overhead at a few percent and memory bounded).
"""

from __future__ import annotations

import numpy as np

from fastbuild.errors import FastbuildError

INSTALL_HINT = "the onnx backend needs onnx and onnxruntime: install fastbuild-splice[onnx] (pip install onnx onnxruntime)"

DEFAULT_ONNX_SEGMENT = 100_000  # outputs per onnxruntime run (plus 2*flank inputs)
OPSET = 17


def _require():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise FastbuildError(f"{INSTALL_HINT} ({exc})") from None


def onnx_available() -> bool:
    try:
        _require()
        return True
    except FastbuildError:
        return False


def _networks(model) -> list:
    from fastbuild.basemodel.models import Model, Network

    if isinstance(model, Model):
        return list(model.networks)
    if isinstance(model, Network):
        return [model]
    return list(model)


# ------------------------------------------------------------------------------------------
# graph construction
# ------------------------------------------------------------------------------------------


def _conv_weight(w: np.ndarray, width: int, conv2d: bool) -> np.ndarray:
    """[W*C_in, C_out] (row k*C_in + c) -> ONNX [C_out, C_in, (1,) W]."""
    c_out = w.shape[1]
    c_in = w.shape[0] // width
    k = np.asarray(w, np.float32).reshape(width, c_in, c_out).transpose(2, 1, 0)
    if conv2d:
        k = k[:, :, None, :]
    return np.ascontiguousarray(k, dtype=np.float32)


class _GraphBuilder:
    def __init__(self, conv2d: bool):
        self.conv2d = conv2d
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, stem):
        self.n += 1
        return f"{stem}_{self.n}"

    def const(self, stem, arr):
        from onnx import numpy_helper

        nm = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def node(self, op, inputs, stem=None, **attrs):
        from onnx import helper

        out = self.name(stem or op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out + "_n", **attrs))
        return out

    def vec(self, stem, v):
        """Per-channel vector broadcastable over [N, C, (1,) L]."""
        shape = (-1, 1, 1) if self.conv2d else (-1, 1)
        return self.const(stem, np.asarray(v, np.float32).reshape(shape))

    def conv(self, x, w, b, width, dilation):
        wn = self.const("w", _conv_weight(w, width, self.conv2d))
        bn = self.const("b", np.asarray(b, np.float32))
        if self.conv2d:
            return self.node("Conv", [x, wn, bn], kernel_shape=[1, width], dilations=[1, dilation], pads=[0, 0, 0, 0], strides=[1, 1])
        return self.node("Conv", [x, wn, bn], kernel_shape=[width], dilations=[dilation], pads=[0, 0], strides=[1])

    def act(self, x, slope):
        if slope == 0.0:
            return self.node("Relu", [x])
        return self.node("LeakyRelu", [x], alpha=float(slope))

    def crop(self, x, lo, hi_from_end):
        """x[..., lo : L - hi_from_end] along the last axis."""
        if lo == 0 and hi_from_end == 0:
            return x
        starts = self.const("st", np.array([lo], np.int64))
        ends = self.const("en", np.array([-hi_from_end if hi_from_end else np.iinfo(np.int64).max], np.int64))
        axes = self.const("ax", np.array([-1], np.int64))
        return self.node("Slice", [x, starts, ends, axes])


def _add_network(g: _GraphBuilder, net, x_in: str) -> str:
    """Nodes of one member; returns the name of its softmax output [N, 3, (1,) n]."""
    flank = net.flank
    slope = float(net.negative_slope)
    c = net.channels
    w_in = np.asarray(net.in_w, np.float32)  # [4, C] -> as a width-1 conv [4*1, C]
    x = g.conv(x_in, w_in, net.in_b, 1, 1)
    shrink = 0  # bases removed from each side of the stream so far

    def skip_of(stream, key):
        ws, bs = net.skips[key]
        centre = g.crop(stream, flank - shrink, flank - shrink)
        return g.conv(centre, np.asarray(ws, np.float32).reshape(c, c), bs, 1, 1)

    skip = skip_of(x, 0)
    for ui, u in enumerate(net.units):
        hf = u.half
        h = g.node("Mul", [x, g.vec("s1", u.bn1_scale)])
        h = g.node("Add", [h, g.vec("t1", u.bn1_shift)])
        h = g.act(h, slope)
        h = g.conv(h, u.w1, u.b1, u.width, u.dilation)
        h = g.act(h, slope)
        h = g.conv(h, u.w2, u.b2, u.width, u.dilation)
        x = g.node("Add", [g.crop(x, 2 * hf, 2 * hf), h], stem="res")
        shrink += 2 * hf
        if ui + 1 in net.skips:
            skip = g.node("Add", [skip, skip_of(x, ui + 1)], stem="skip")
    if shrink != flank:
        raise FastbuildError("internal error: network flank does not match its units")
    logits = g.conv(skip, np.asarray(net.out_w, np.float32), net.out_b, 1, 1)
    return g.node("Softmax", [logits], axis=1)


def build_onnx_model(model, conv2d: bool = True, average: bool = True):
    """ONNX ModelProto of an ensemble (a Model, a Network or a list of Networks).

    ``average``: one output ``y`` (the members' mean); otherwise one output per member
    (``y0``, ``y1``, ...)."""
    _require()
    from onnx import TensorProto, helper

    nets = _networks(model)
    if not nets:
        raise FastbuildError("no networks to export")
    flanks = {n.flank for n in nets}
    if len(flanks) != 1:
        raise FastbuildError("ensemble members have different flanks")
    g = _GraphBuilder(conv2d)
    in_shape = ["N", 4, 1, "L"] if conv2d else ["N", 4, "L"]
    out_shape = ["N", 3, 1, "M"] if conv2d else ["N", 3, "M"]
    outs = [_add_network(g, net, "x") for net in nets]
    from onnx import numpy_helper  # noqa: F401

    if average:
        acc = outs[0]
        for o in outs[1:]:
            acc = g.node("Add", [acc, o], stem="ens")
        if len(outs) > 1:
            acc = g.node("Mul", [acc, g.const("inv", np.array(1.0 / len(outs), np.float32))], stem="mean")
        g.nodes.append(helper.make_node("Identity", [acc], ["y"], name="y_n"))
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)]
    else:
        outputs = []
        for i, o in enumerate(outs):
            g.nodes.append(helper.make_node("Identity", [o], [f"y{i}"], name=f"y{i}_n"))
            outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, out_shape))
    graph = helper.make_graph(
        g.nodes,
        "fastbuild_splice_basemodel",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        outputs,
        initializer=g.inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fastbuild")
    m.ir_version = min(m.ir_version, 8)  # readable by older onnxruntime releases too
    return m


# ------------------------------------------------------------------------------------------
# runner
# ------------------------------------------------------------------------------------------


def _one_hot(codes: np.ndarray, conv2d: bool) -> np.ndarray:
    """uint8 codes [L] -> float32 [1, 4, (1,) L]; code >= 4 (N) -> zeros."""
    x = np.zeros((4, codes.shape[0]), dtype=np.float32)
    for b in range(4):
        x[b, codes == b] = 1.0
    return x[None, :, None, :] if conv2d else x[None]


class OnnxRunner:
    """Scores sequences with onnxruntime (CPU). Drop-in for :class:`forward.Runner` in
    :func:`fastbuild.basemodel.forward.score_sequence` / ``score_region`` (``backend = "onnx"``).

    One session holds the whole ensemble (members averaged in the graph). ``threads``: onnxruntime
    intra-op threads (default: all CPUs this process may use)."""

    backend = "onnx"

    def __init__(self, model, threads: int | None = None, segment: int = DEFAULT_ONNX_SEGMENT, conv2d: bool = True, average: bool = True, optimization: str = "all"):
        _require()
        import onnxruntime as ort

        from fastbuild.basemodel.forward import default_threads

        self.nets = _networks(model)
        self.flank = self.nets[0].flank
        self.threads = int(threads or default_threads())
        self.segment = int(segment)
        self.conv2d = bool(conv2d)
        self.average = bool(average)
        proto = build_onnx_model(self.nets, conv2d=conv2d, average=average)
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }[optimization]
        so.log_severity_level = 3
        self.session = ort.InferenceSession(proto.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])
        self._out_names = [o.name for o in self.session.get_outputs()]

    def close(self):
        self.session = None

    def _run(self, part: np.ndarray) -> np.ndarray:
        """Codes with flanks -> mean probabilities [n, 3] float32."""
        x = _one_hot(part, self.conv2d)
        outs = self.session.run(self._out_names, {"x": x})
        if len(outs) == 1:
            y = outs[0]
        else:
            y = np.mean(np.stack(outs).astype(np.float64), axis=0)
        return np.ascontiguousarray(y.reshape(3, -1).T, dtype=np.float32)

    def score_sequence(self, codes_with_flank, segment: int | None = None) -> np.ndarray:
        """Same contract as :func:`fastbuild.basemodel.forward.score_sequence`."""
        if self.session is None:
            raise FastbuildError("this onnx runner has been closed")
        flank = self.flank
        codes = np.ascontiguousarray(codes_with_flank, dtype=np.uint8)
        if codes.ndim != 1:
            raise FastbuildError("sequence codes must be one-dimensional")
        n = codes.shape[0] - 2 * flank
        if n < 0:
            raise FastbuildError(f"sequence shorter than the model's two flanks ({2 * flank} nt)")
        out = np.zeros((n, 3), dtype=np.float32)
        seg = int(segment or self.segment)
        # equal-sized segments (a short tail segment would pay the whole flank for few outputs)
        k = max(1, -(-n // seg))
        step = -(-n // k) if n else 0
        for s in range(0, n, max(step, 1)):
            e = min(n, s + step)
            out[s:e] = self._run(codes[s : e + 2 * flank])
        return out


_CACHE: list = []  # [(networks list, threads, OnnxRunner)], a couple of recent sessions


def onnx_runner(model, threads: int | None = None) -> OnnxRunner:
    """A cached OnnxRunner for ``model`` (building a session takes about a second)."""
    nets = _networks(model)
    for cached_nets, th, runner in _CACHE:
        if th == threads and len(cached_nets) == len(nets) and all(a is b for a, b in zip(cached_nets, nets)):
            return runner
    runner = OnnxRunner(nets, threads=threads)
    _CACHE.append((nets, threads, runner))
    del _CACHE[:-2]
    return runner


def score_sequence_onnx(model, codes_with_flank, runner=None, segment: int | None = None) -> np.ndarray:
    """:func:`fastbuild.basemodel.forward.score_sequence` with onnxruntime."""
    if not isinstance(runner, OnnxRunner):
        runner = onnx_runner(model, threads=getattr(runner, "threads", None))
    return runner.score_sequence(codes_with_flank, segment=segment)
