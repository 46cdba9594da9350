"""Optional onnxruntime (CPU) backend for the base-model forward pass.

The ONNX graph is built with the ``onnx`` helper API from the very same folded
:class:`~fastbuild.basemodel.models.Network` weights the numpy path uses (no other weight source):

* input ``x``: one-hot codes ``[N, 4, L]`` float32 (code 4 = N is the zero vector, so the 1x1
  input convolution gives its bias, as in the numpy path's lookup table);
* all convolutions are "valid" (unpadded): each layer computes only the rows the next needs;
* BatchNorm-1 of each residual unit is ``Mul``/``Add`` by the folded scale/shift, BatchNorm-2 is
  already folded into conv1; ``Relu`` or ``LeakyRelu(alpha=slope)``;
* dilated convolutions are written in one of three forms (:func:`conv_plan`):

  - "image" (dilation 4 in the default "mixed" plan): the stream ``[N, C, L]`` is reshaped (no copy) to the
    image ``[N, C, L/D, D]``, where the dilated convolution is a dense ``[W, 1]`` kernel with
    dilation 1; onnxruntime then runs it with its blocked NCHWc kernels (with graph optimisation
    level "all") and fuses bias, activation and the residual ``Add`` into it;
  - "plain": one dilated 1-D ``Conv`` (im2col + GEMM in onnxruntime; used for dilation 1);
  - "pairs" (dilations 10 and 25 in "mixed"): the pairwise (Karatsuba) form of the numpy path,
    3J-1 instead of 4J-2 taps per two rows, as three 2-D convolutions over ``[L/2D, D]``
    images; its slices and interleaving cost memory passes, which the saved multiplications
    repay only for the wide kernels / images of the larger dilations (about +5% over "image");

* the residual stream is cropped (``Slice``) for the residual ``Add``; skip 1x1 convolutions see
  the stream cropped to the scored centre and are summed; final 1x1 ``Conv`` to 3 channels and
  ``Softmax`` over channels; the ensemble members are averaged inside the graph (one session).

Output ``y``: ``[N, 3, L - 2*flank]``. Forms other than "plain" need the scored length to be a
multiple of :func:`length_quantum` (100 for the standard models, 200 with "pairs" at dilation 1):
the runner pads the last segment with N and drops the padded outputs.

Long sequences are scored in segments of ``segment`` outputs (plus both flanks); each segment is
one ``run`` of batch size 1, so the flank is recomputed only once per segment and memory stays
bounded.
"""

from __future__ import annotations

import numpy as np

from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError

INSTALL_HINT = (
    "the onnx backend needs onnx and onnxruntime: install fastbuild-splice[onnx] (pip install onnx onnxruntime)"
)

DEFAULT_ONNX_SEGMENT = 100_000  # outputs per onnxruntime run (plus 2*flank inputs)
OPSET = 17


def require_onnx(runtime: bool = True, hint: str = INSTALL_HINT) -> None:
    """Raise FastbuildError with ``hint`` unless onnx (and, with ``runtime``, onnxruntime) import.

    ``runtime=False``: only the graph builder (:func:`build_onnx_model`) is needed, as by the
    openvino backend, which reads the graph with its own ONNX front end."""
    try:
        import onnx  # noqa: F401

        if runtime:
            import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise FastbuildError(f"{hint} ({exc})") from None


def onnx_available() -> bool:
    """True when onnx and onnxruntime are installed (the onnx backend can run)."""
    try:
        require_onnx()
        return True
    except FastbuildError:
        return False


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
            return self.node(
                "Conv", [x, wn, bn], kernel_shape=[1, width], dilations=[1, dilation], pads=[0, 0, 0, 0], strides=[1, 1]
            )
        return self.node("Conv", [x, wn, bn], kernel_shape=[width], dilations=[dilation], pads=[0, 0], strides=[1])

    def act(self, x, slope):
        if slope == 0.0:
            return self.node("Relu", [x])
        return self.node("LeakyRelu", [x], alpha=float(slope))

    def slice(self, x, axis, start, end):
        """x[..., start:end, ...] along ``axis`` (end None = to the end)."""
        starts = self.const("st", np.array([start], np.int64))
        ends = self.const("en", np.array([np.iinfo(np.int64).max if end is None else end], np.int64))
        axes = self.const("ax", np.array([axis], np.int64))
        return self.node("Slice", [x, starts, ends, axes])

    def reshape(self, x, shape):
        return self.node("Reshape", [x, self.const("shape", np.array(shape, np.int64))])

    def conv_pairs(self, a, w, b, width, dilation, slope=None):
        """Valid dilated 1-D convolution [N, C, Lin] -> [N, C, Lout] in the pairwise form.

        Needs Lout (hence Lin = Lout + (W-1)*D) to be a multiple of 2*D. With A[q, r] = a[q*2D + r]
        (a reshape to [N, C, Q, 2D]), output rows t = q*2D + r (r < D) and t + D share
        u_j = A[q+j, r], v_j = A[q+j, r+D]; y[t] = m1 + m2, y[t+D] = m2 + m3 with
        m1 = sum_j E_j (u_j - v_j), m2 = sum_j (E_j + O_j) v_j, m3 = sum_{j>=1} O_{j-1} (u_j - v_{j-1})
        (E: even taps, O: odd taps): 3J-1 instead of 4J-2 taps per two rows (J = (W+1)/2).
        The three sums are 2-D convolutions with kernels [J, 1] (dilation 1) over [Q, D] images.
        ``slope`` not None: the activation is applied to the output (before the interleave, so
        that onnxruntime can fuse it with the Add into the convolution)."""
        c_out = w.shape[1]
        c_in = w.shape[0] // width
        taps = np.asarray(w, np.float64).reshape(width, c_in, c_out)
        j_n = (width + 1) // 2
        even = taps[0::2]
        odd = np.concatenate([taps[1::2], np.zeros((1, c_in, c_out))])
        d = dilation

        def kern(t):  # [K, C_in, C_out] -> ONNX [C_out, C_in, K, 1]
            return self.const("w", np.ascontiguousarray(t.transpose(2, 1, 0)[:, :, :, None], dtype=np.float32))

        def conv2(x, t, bias):
            ins = [x, kern(t)] + ([self.const("b", np.asarray(bias, np.float32))] if bias is not None else [])
            return self.node("Conv", ins, kernel_shape=[len(t), 1], pads=[0, 0, 0, 0], strides=[1, 1], dilations=[1, 1])

        img = self.reshape(a, [0, 0, -1, 2 * d])  # [N, C, Qin, 2D]
        u = self.slice(img, 3, 0, d)
        v = self.slice(img, 3, d, None)
        m1 = conv2(self.node("Sub", [u, v]), even, None)
        m2 = conv2(v, even + odd, b)
        z = self.node("Sub", [self.slice(u, 2, 1, None), self.slice(v, 2, 0, -1)])
        m3 = conv2(z, odd[: j_n - 1], None)
        y_even = self.node("Add", [m1, m2])
        y_odd = self.node("Add", [m3, m2])
        if slope is not None:
            y_even, y_odd = self.act(y_even, slope), self.act(y_odd, slope)
        y = self.node("Concat", [y_even, y_odd], axis=3)  # [N, C, Q, 2D]
        return self.reshape(y, [0, 0, -1])

    def conv_image(self, a, w, b, width, dilation, slope=None, residual=None):
        """Valid dilated 1-D convolution as a 2-D one: with A[q, r] = a[q*D + r] (a reshape to
        [N, C, L/D, D]), a[t + k*D] = A[q + k, r], so the convolution is a [W, 1] kernel with
        dilation 1 over the image (needs Lin and Lout multiples of D). ``slope``: activation
        applied before the reshape back (fusable with the convolution). ``residual``: a stream
        whose centre (``(W-1)*D`` cropped on each side) is added, in the image layout so that
        onnxruntime can fuse the Add into the convolution."""
        k = _conv_weight(w, width, False)[:, :, :, None]  # [C_out, C_in, W, 1]
        img = self.reshape(a, [0, 0, -1, dilation])
        ins = [img, self.const("w", k), self.const("b", np.asarray(b, np.float32))]
        y = self.node("Conv", ins, kernel_shape=[width, 1], pads=[0, 0, 0, 0], strides=[1, 1], dilations=[1, 1])
        if slope is not None:
            y = self.act(y, slope)
        if residual is not None:
            r = self.slice(self.reshape(residual, [0, 0, -1, dilation]), 2, width - 1, -(width - 1))
            y = self.node("Add", [y, r], stem="res")
        return self.reshape(y, [0, 0, -1])

    def crop(self, x, lo, hi_from_end):
        """x[..., lo : L - hi_from_end] along the last axis."""
        if lo == 0 and hi_from_end == 0:
            return x
        starts = self.const("st", np.array([lo], np.int64))
        ends = self.const("en", np.array([-hi_from_end if hi_from_end else np.iinfo(np.int64).max], np.int64))
        axes = self.const("ax", np.array([-1], np.int64))
        return self.node("Slice", [x, starts, ends, axes])


CONV_FORMS = ("mixed", "image", "pairs", "plain")
PAIRS_FROM_DILATION = 10  # "mixed": pairs from this dilation on (wide images: NCHWc is efficient)


def conv_plan(net, form="mixed") -> dict:
    """dilation -> how its convolutions are written: "pairs" (``_GraphBuilder.conv_pairs``),
    "image" (``conv_image``) or "plain" (one dilated 1-D Conv).

    ``form``: "mixed" (the default: pairs for dilations >= 10, image for the other dilations
    > 1, plain for dilation 1; fastest in the measurements), "image" (dilations > 1; 1 stays
    plain), "pairs" (all), "plain", or a dict dilation -> form. A form is dropped (to plain) for a dilation whose
    convolution lengths are not all multiples of its period (2D for pairs, D for image) when the
    scored length is a multiple of :func:`length_quantum`; for the standard SpliceAI /
    OpenSpliceAI configurations no form is ever dropped."""
    dils = sorted({u.dilation for u in net.units if u.width > 1})
    if isinstance(form, dict):
        plan = {d: form.get(d, "plain") for d in dils}
    elif form == "image":
        plan = {d: "image" if d > 1 else "plain" for d in dils}
    elif form == "mixed":
        plan = {d: "pairs" if d >= PAIRS_FROM_DILATION else "image" if d > 1 else "plain" for d in dils}
    elif form in CONV_FORMS:
        plan = {d: form for d in dils}
    else:
        raise FastbuildError(f"unknown convolution form {form!r} (use one of {', '.join(CONV_FORMS)})")
    rem = net.flank
    for u in net.units:
        for _ in range(2):
            rem -= u.half
            if u.width > 1 and (2 * rem) % _period(plan[u.dilation], u.dilation):
                plan[u.dilation] = "plain"
    return plan


def _period(form, dilation) -> int:
    return {"pairs": 2 * dilation, "image": dilation}.get(form, 1)


def length_quantum(net, form="mixed") -> int:
    """Scored lengths must be multiples of this for the graph of ``form`` (1 for "plain")."""
    q = 1
    for d, f in conv_plan(net, form).items():
        q = int(np.lcm(q, _period(f, d)))
    return q


def _add_network(g: _GraphBuilder, net, x_in: str, form="plain") -> str:
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
    plan = conv_plan(net, form)
    for ui, u in enumerate(net.units):
        how = plan.get(u.dilation, "plain") if u.width > 1 else "plain"
        conv = {"pairs": g.conv_pairs, "image": g.conv_image, "plain": g.conv}[how]
        hf = u.half
        h = g.node("Mul", [x, g.vec("s1", u.bn1_scale)])
        h = g.node("Add", [h, g.vec("t1", u.bn1_shift)])
        h = g.act(h, slope)
        if how == "plain":
            h = g.act(g.conv(h, u.w1, u.b1, u.width, u.dilation), slope)
        else:
            h = conv(h, u.w1, u.b1, u.width, u.dilation, slope=slope)
        if how == "image":
            x = g.conv_image(h, u.w2, u.b2, u.width, u.dilation, residual=x)
        else:
            h = conv(h, u.w2, u.b2, u.width, u.dilation)
            x = g.node("Add", [g.crop(x, 2 * hf, 2 * hf), h], stem="res")
        shrink += 2 * hf
        if ui + 1 in net.skips:
            skip = g.node("Add", [skip, skip_of(x, ui + 1)], stem="skip")
    if shrink != flank:
        raise FastbuildError("internal error: network flank does not match its units")
    logits = g.conv(skip, np.asarray(net.out_w, np.float32), net.out_b, 1, 1)
    return g.node("Softmax", [logits], axis=1)


def build_onnx_model(model, conv2d: bool = False, average: bool = True, form="mixed"):
    """ONNX ModelProto of an ensemble (a Model, a Network or a list of Networks).

    ``form`` (1-D layout only, see :func:`conv_plan`): how dilated convolutions are written;
    unless "plain", the scored length must be a multiple of :func:`length_quantum` (the runner
    pads with N and drops the padding). ``conv2d``: plain convolutions on [N, C, 1, L].
    ``average``: one output ``y`` (the members' mean); otherwise one output per member
    (``y0``, ``y1``, ...)."""
    require_onnx(runtime=False)
    from onnx import TensorProto, helper

    nets = networks_of(model)
    if not nets:
        raise FastbuildError("no networks to export")
    flanks = {n.flank for n in nets}
    if len(flanks) != 1:
        raise FastbuildError("ensemble members have different flanks")
    if conv2d and form != "plain":
        raise FastbuildError("the conv2d layout has plain convolutions only (form='plain')")
    g = _GraphBuilder(conv2d)
    in_shape = ["N", 4, 1, "L"] if conv2d else ["N", 4, "L"]
    out_shape = ["N", 3, 1, "M"] if conv2d else ["N", 3, "M"]
    outs = [_add_network(g, net, "x", form) for net in nets]
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


_OPTIMIZATION_LEVELS = {  # names of onnxruntime.GraphOptimizationLevel members
    "all": "ORT_ENABLE_ALL",
    "extended": "ORT_ENABLE_EXTENDED",
    "basic": "ORT_ENABLE_BASIC",
    "none": "ORT_DISABLE_ALL",
}


def _session(proto, threads: int, optimization: str):
    """An onnxruntime CPU inference session of ``proto`` (sequential, ``threads`` intra-op threads)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPTIMIZATION_LEVELS[optimization])
    so.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])


class OnnxRunner(Runner):
    """The onnxruntime (CPU) backend: one session holds the whole ensemble.

    Parameters
    ----------
    model : Model, Network or list of Network
        The ensemble (members averaged in the graph unless ``average`` is false).
    threads : int, optional
        onnxruntime intra-op threads (default: all CPUs this process may use).
    segment : int
        Most outputs per run (rounded down to the length quantum); memory ~1.3 KiB per base of
        segment with 5 members.
    conv2d : bool
        Plain convolutions on ``[N, C, 1, L]`` (implies ``form="plain"``).
    average : bool
        Average the members inside the graph; otherwise in numpy (float64).
    form : str or dict
        How dilated convolutions are written (see :func:`conv_plan`; "mixed" is fastest).
    optimization : {"all", "extended", "basic", "none"}, optional
        onnxruntime graph optimisation level; default "all" for the image/pairs forms (their 2-D
        convolutions run fastest in onnxruntime's blocked NCHWc layout) and "extended" for
        "plain" (1-D Conv + activation fused; NCHWc would make it slower).

    Raises
    ------
    FastbuildError
        When onnx or onnxruntime is not installed (with the install hint).
    """

    backend = "onnx"

    def __init__(
        self,
        model,
        threads: int | None = None,
        segment: int = DEFAULT_ONNX_SEGMENT,
        conv2d: bool = False,
        average: bool = True,
        form="mixed",
        optimization: str | None = None,
    ):
        require_onnx()
        self.networks = networks_of(model)
        if not self.networks:
            raise FastbuildError("no networks to export")
        self.flank = self.networks[0].flank
        self.threads = int(threads or default_threads())
        self.conv2d = bool(conv2d)
        self.average = bool(average)
        if self.conv2d:
            form = "plain"
        self.form = form
        self.quantum = 1
        for net in self.networks:
            self.quantum = int(np.lcm(self.quantum, length_quantum(net, form)))
        self.segment = max(self.quantum, int(segment) // self.quantum * self.quantum)
        proto = build_onnx_model(self.networks, conv2d=self.conv2d, average=self.average, form=form)
        self.session = _session(proto, self.threads, optimization or ("extended" if form == "plain" else "all"))
        self._out_names = [o.name for o in self.session.get_outputs()]

    def close(self) -> None:
        """Drop the session (idempotent)."""
        self.session = None

    def _run(self, part: np.ndarray, n: int) -> np.ndarray:
        """Codes with flanks (n outputs) -> mean probabilities [n, 3] float32."""
        pad = -n % self.quantum
        if pad:  # image/pairs graphs need a multiple of the quantum: pad with N, drop after
            part = np.concatenate([part, np.full(pad, 4, np.uint8)])
        x = _one_hot(part, self.conv2d)
        outs = self.session.run(self._out_names, {"x": x})
        if len(outs) == 1:
            y = outs[0]
        else:
            y = np.mean(np.stack(outs).astype(np.float64), axis=0)
        return np.ascontiguousarray(y.reshape(3, -1)[:, :n].T, dtype=np.float32)

    def score_sequence(self, codes_with_flank) -> np.ndarray:
        """Ensemble-averaged scores; see :meth:`fastbuild.basemodel.runner.Runner.score_sequence`."""
        if self.session is None:
            raise FastbuildError("this onnx runner has been closed")
        flank = self.flank
        codes, n = check_codes(codes_with_flank, flank)
        out = np.zeros((n, 3), dtype=np.float32)
        if n == 0:
            return out
        # equal-sized segments (a short tail segment would pay the whole flank for few outputs),
        # rounded up to the quantum so that only the last one needs padding
        k = -(-n // self.segment)
        step = -(-n // k)
        step = -(-step // self.quantum) * self.quantum
        for s in range(0, n, step):
            e = min(n, s + step)
            out[s:e] = self._run(codes[s : e + 2 * flank], e - s)
        return out
