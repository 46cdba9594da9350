"""SpliceAI-family base models: descriptions, weights and loaders (no TensorFlow, no PyTorch).

Two published formats are read:

* SpliceAI (Jaganathan et al. 2019): the five Keras ``spliceai1..5.h5`` files shipped with the
  ``spliceai`` PyPI package, read with h5py by walking the Keras model graph stored in the file.
  Any other .h5 file is untrusted input and is read in a child process (HDF5 can crash on
  corrupt files).
* OpenSpliceAI: PyTorch zip checkpoints (``model_*.pt`` state dicts), read with the restricted
  unpickler in :mod:`fastbuild.basemodel.torchfile`.

Both share one topology: a 1x1 input convolution to C channels, residual units
``x + conv2(act(bn2(conv1(act(bn1(x))))))`` in groups of four, 1x1 "skip" convolutions of the
stream (after the input convolution and after every group) summed into a running skip
accumulator, cropping of the flank, a final 1x1 convolution to 3 channels and a softmax.

At load every convolution is converted to channels-last matrices ``[W*C_in, C_out]`` (row index
``k*C_in + c`` for tap ``k``); the second BatchNorm of each unit is folded exactly into the
preceding convolution, the first BatchNorm is kept as a per-channel scale/shift that the forward
pass applies together with the activation.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fastbuild.basemodel import weights_cache
from fastbuild.errors import FastbuildError
from fastbuild.files import sha256_file

log = logging.getLogger(__name__)

CHANNEL_ORDER = ("neither", "acceptor", "donor")

# Standard SpliceAI / OpenSpliceAI configurations: number of residual units -> (widths, dilations)
_W = np.asarray([11] * 8 + [21] * 4 + [41] * 4)
_AR = np.asarray([1] * 4 + [4] * 4 + [10] * 4 + [25] * 4)
STANDARD_CONFIGS = {n: (tuple(int(w) for w in _W[:n]), tuple(int(d) for d in _AR[:n])) for n in (4, 8, 12, 16)}


@dataclass(frozen=True)
class ModelSpec:
    """What a model is: enough to know how to run it and to recognise its scores later."""

    name: str  # e.g. "spliceai" or "openspliceai-arabidopsis-10000nt"
    family: str  # "spliceai-keras" or "openspliceai-torch"
    flank: int  # context on each side of a scored base (5000 for the 10000nt models)
    activation: str  # "relu" or "leaky_relu"
    negative_slope: float  # 0.0 for ReLU, 0.1 for OpenSpliceAI's LeakyReLU
    bn_epsilon: float  # 1e-3 (Keras) or 1e-5 (PyTorch)
    channel_order: tuple = CHANNEL_ORDER
    files: tuple = ()  # ((file name, sha256), ...), one per ensemble member

    @property
    def identity(self) -> dict:
        """JSON-able identity recorded in a score store (weight file checksums decide)."""
        return {
            "name": self.name,
            "family": self.family,
            "flank": self.flank,
            "channel_order": list(self.channel_order),
            "files": [{"name": n, "sha256": h} for n, h in self.files],
            "digest": self.digest,
        }

    @property
    def digest(self) -> str:
        """One sha256 over the sorted member checksums: equal digests mean equal ensembles."""
        h = hashlib.sha256()
        for sha in sorted(s for _, s in self.files):
            h.update(sha.encode())
        return h.hexdigest()


@dataclass
class ResidualBlock:
    """One residual unit, channels-last, BN2 folded into conv1."""

    width: int
    dilation: int
    bn1_scale: np.ndarray  # [C] float32
    bn1_shift: np.ndarray  # [C]
    w1: np.ndarray  # [W*C, C] float32 (BN2 folded in)
    b1: np.ndarray  # [C]
    w2: np.ndarray  # [W*C, C]
    b2: np.ndarray  # [C]

    k1: tuple = ()  # pairwise (Karatsuba) weights of conv1: (E, E+O, O), see pairwise_weights
    k2: tuple = ()
    q1: tuple = ()  # two-level pairwise weights of conv1: (kq, taps), see quad_weights
    q2: tuple = ()

    def __post_init__(self):
        if self.width > 1:
            self.k1 = pairwise_weights(self.w1, self.width)
            self.k2 = pairwise_weights(self.w2, self.width)
            self.q1 = quad_weights(self.w1, self.width)
            self.q2 = quad_weights(self.w2, self.width)
        else:
            self.k1 = self.k2 = self.q1 = self.q2 = None

    @property
    def half(self) -> int:
        """Rows a convolution of this unit consumes on each side."""
        return (self.width - 1) * self.dilation // 2


def pairwise_weights(w: np.ndarray, width: int) -> tuple:
    """Split a [W*C, C] conv weight into the pairwise form used by the forward pass:
    E = even taps (J = ceil(W/2) blocks), E+O (odd taps, a zero block appended for odd W), O."""
    c = w.shape[0] // width
    taps = np.asarray(w, np.float64).reshape(width, c, -1)
    even, odd = taps[0::2], taps[1::2]
    odd_padded = odd
    if len(odd) < len(even):
        odd_padded = np.concatenate([odd, np.zeros((len(even) - len(odd), *odd.shape[1:]))])

    def f(a):
        return np.ascontiguousarray(a.reshape(-1, a.shape[-1]), dtype=np.float32)

    return f(even), f(even + odd_padded), f(odd)


def _halves(f: np.ndarray) -> list:
    """[Fe + Fo, Fe, Fo] of taps f [n, C, C']: even and odd taps, Fo zero-padded in the sum."""
    fe, fo = f[0::2], f[1::2]
    pad = np.concatenate([fo, np.zeros((len(fe) - len(fo), *f.shape[1:]))]) if len(fo) < len(fe) else fo
    return [fe + pad, fe, fo]


def quad_weights(w: np.ndarray, width: int) -> tuple:
    """Weights of the two-level pairwise form (:func:`fastbuild.basemodel.forward_numba_fns._quad_codegen`).

    The level-1 split (E+O, E, O) of :func:`pairwise_weights`, each split again into its even
    and odd taps (Fe+Fo, Fe, Fo): nine tap sets, summed in float64 and rounded once.

    Returns
    -------
    kq : numpy.ndarray
        float32 ``[9, T*C, C']`` (T: the most taps of any set; shorter sets zero-padded).
    taps : numpy.ndarray
        int64 ``[9]``: the taps of each set.
    """
    c = w.shape[0] // width
    taps = np.asarray(w, np.float64).reshape(width, c, -1)
    even, odd = taps[0::2], taps[1::2]
    pad = np.concatenate([odd, np.zeros((len(even) - len(odd), *odd.shape[1:]))]) if len(odd) < len(even) else odd
    sets = _halves(even + pad) + _halves(even) + _halves(odd)
    most = max(len(f) for f in sets)
    kq = np.zeros((9, max(1, most) * c, taps.shape[2]), dtype=np.float32)
    for q, f in enumerate(sets):
        kq[q, : len(f) * c] = f.reshape(-1, taps.shape[2])
    return kq, np.array([len(f) for f in sets], dtype=np.int64)


@dataclass
class Network:
    """One ensemble member, ready for :meth:`fastbuild.basemodel.forward.ForwardPass.forward`."""

    in_w: np.ndarray  # [4, C]
    in_b: np.ndarray  # [C]
    units: list  # [ResidualBlock]
    skips: dict  # number of units before the skip -> (w [C, C], b [C]); key 0 = after input conv
    out_w: np.ndarray  # [C, 3]
    out_b: np.ndarray  # [3]
    negative_slope: float = 0.0
    channels: int = field(init=False)

    def __post_init__(self):
        self.channels = int(self.in_w.shape[1])

    @property
    def flank(self) -> int:
        """Context the network needs on each side of a scored base."""
        return sum(2 * u.half for u in self.units)

    @property
    def flops_per_nt(self) -> int:
        """Floating-point operations of the residual convolutions per scored base."""
        c = self.channels
        return sum(2 * 2 * u.width * c * c for u in self.units)


@dataclass
class Model:
    """An ensemble: its description and its members (outputs are averaged)."""

    spec: ModelSpec
    networks: list

    @property
    def flank(self) -> int:
        """Context the ensemble needs on each side of a scored base."""
        return self.spec.flank

    @property
    def identity(self) -> dict:
        """See :attr:`ModelSpec.identity`."""
        return self.spec.identity


_MAX_FLANK = 100_000  # 20x the context of the largest published model: more is a corrupt file


def _check_network(net: Network, source) -> Network:
    """Refuse a network whose shapes or values the forward pass cannot run safely.

    The numba kernels index without bounds checks, so every array must have exactly the shape
    the channel count implies, every width and dilation must be sane, and every weight finite.
    """
    c = net.channels

    def check(a, shape, what):
        if not isinstance(a, np.ndarray) or a.shape != shape:
            got = getattr(a, "shape", type(a).__name__)
            raise FastbuildError(f"{source}: {what} has shape {got}, expected {shape} (corrupt weights?)")
        if not np.all(np.isfinite(a)):
            raise FastbuildError(f"{source}: {what} holds NaN or infinite values (corrupt weights?)")

    if c < 1:
        raise FastbuildError(f"{source}: the model has no channels")
    check(net.in_w, (4, c), "the input convolution")
    check(net.in_b, (c,), "the input convolution bias")
    check(net.out_w, (c, 3), "the output convolution")
    check(net.out_b, (3,), "the output convolution bias")
    if 0 not in net.skips or not set(net.skips) <= set(range(len(net.units) + 1)):
        raise FastbuildError(f"{source}: unexpected skip connections {sorted(net.skips)}")
    for key, (w, b) in net.skips.items():
        check(w, (c, c), f"skip convolution {key}")
        check(b, (c,), f"skip convolution bias {key}")
    for i, u in enumerate(net.units):
        if not (u.width >= 1 and u.width % 2 == 1 and u.dilation >= 1):
            raise FastbuildError(f"{source}: residual unit {i} has width {u.width} and dilation {u.dilation}")
        for name in ("bn1_scale", "bn1_shift", "b1", "b2"):
            check(getattr(u, name), (c,), f"residual unit {i} {name}")
        check(u.w1, (u.width * c, c), f"residual unit {i} conv1")
        check(u.w2, (u.width * c, c), f"residual unit {i} conv2")
    if net.flank > _MAX_FLANK:
        raise FastbuildError(f"{source}: implausible model context of {net.flank} bases on each side")
    return net


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64), dtype=np.float32)


def _bn_affine(gamma, beta, mean, var, eps):
    """BatchNorm (inference) as y = x*scale + shift, computed in float64."""
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    return scale, shift


def make_residual_block(width, dilation, bn1, conv1, bn2, conv2, eps, source="model weights") -> ResidualBlock:
    """Build a folded unit from raw parameters.

    ``bn1``/``bn2`` are (gamma, beta, mean, var); ``conv1``/``conv2`` are (kernel [W, C_in, C_out]
    Keras layout, bias [C_out]); ``source`` names the weights file in error messages.
    """
    s1, t1 = _bn_affine(*bn1, eps)
    s2, t2 = _bn_affine(*bn2, eps)
    k1, c1 = np.asarray(conv1[0], np.float64), np.asarray(conv1[1], np.float64)
    k2, c2 = np.asarray(conv2[0], np.float64), np.asarray(conv2[1], np.float64)
    w = k1.shape[0]
    if w != width or k2.shape[0] != width:
        raise FastbuildError(f"{source}: weights do not match the expected convolution width {width}")
    w1 = k1 * s2[None, None, :]
    b1 = c1 * s2 + t2
    return ResidualBlock(
        width=int(width),
        dilation=int(dilation),
        bn1_scale=_f32(s1),
        bn1_shift=_f32(t1),
        w1=_f32(w1.reshape(w * k1.shape[1], k1.shape[2])),
        b1=_f32(b1),
        w2=_f32(k2.reshape(w * k2.shape[1], k2.shape[2])),
        b2=_f32(c2),
    )


# --------------------------------------------------------------------------------------------
# OpenSpliceAI (PyTorch state dicts)
# --------------------------------------------------------------------------------------------


def _tap0(kernel, what: str, source) -> np.ndarray:
    """The only tap of a 1x1 convolution kernel (Keras layout ``[W, C_in, C_out]``)."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 3 or kernel.shape[0] != 1:
        raise FastbuildError(f"{source}: {what} has kernel shape {kernel.shape}, expected a 1x1 convolution")
    return kernel[0]


def network_from_state_dict(sd, eps: float = 1e-5, negative_slope: float = 0.1, source="checkpoint") -> Network:
    """Build a Network from an OpenSpliceAI state dict (name -> numpy array).

    Raises
    ------
    FastbuildError
        One line naming ``source`` when a tensor is missing or has the wrong shape or values.
    """
    try:
        net = _network_from_state_dict(sd, eps, negative_slope, source)
    except FastbuildError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise FastbuildError(f"{source}: not an OpenSpliceAI checkpoint ({_describe(exc)})") from None
    return _check_network(net, source)


def _network_from_state_dict(sd, eps, negative_slope, source) -> Network:
    def get(key):
        try:
            return np.asarray(sd[key])
        except KeyError:
            raise FastbuildError(f"{source}: not an OpenSpliceAI checkpoint (missing {key})") from None

    def torch_conv(prefix):  # torch [C_out, C_in, W] -> keras [W, C_in, C_out]
        w, b = get(prefix + ".weight"), get(prefix + ".bias")
        if w.ndim != 3 or b.shape != w.shape[:1]:
            raise FastbuildError(f"{source}: {prefix} has weight shape {w.shape} and bias shape {b.shape}")
        return np.transpose(w, (2, 1, 0)), b

    def bn(q):
        return get(q + ".weight"), get(q + ".bias"), get(q + ".running_mean"), get(q + ".running_var")

    in_k, in_b = torch_conv("initial_conv")
    sk, sb = torch_conv("initial_skip.conv")
    skips = {0: (_f32(_tap0(sk, "initial_skip.conv", source)), _f32(sb))}
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("residual_units.")})
    raw_units = []
    for i in idx:
        p = f"residual_units.{i}"
        if f"{p}.conv.weight" in sd:
            k, b = torch_conv(f"{p}.conv")
            skips[len(raw_units)] = (_f32(_tap0(k, f"{p}.conv", source)), _f32(b))
        else:
            raw_units.append(
                (bn(p + ".batchnorm1"), torch_conv(p + ".conv1"), bn(p + ".batchnorm2"), torch_conv(p + ".conv2"))
            )
    if len(raw_units) not in STANDARD_CONFIGS:
        raise FastbuildError(f"{source}: unsupported OpenSpliceAI depth ({len(raw_units)} residual units)")
    widths, dilations = STANDARD_CONFIGS[len(raw_units)]
    units = []
    for (bn1, c1, bn2, c2), w, d in zip(raw_units, widths, dilations, strict=True):
        if c1[0].shape[0] != w:
            raise FastbuildError(f"{source}: unexpected convolution width {c1[0].shape[0]} (expected {w})")
        units.append(make_residual_block(w, d, bn1, c1, bn2, c2, eps, source=source))
    out_k, out_b = torch_conv("final_conv")
    in_w, out_w = _tap0(in_k, "initial_conv", source), _tap0(out_k, "final_conv", source)
    return Network(_f32(in_w), _f32(in_b), units, skips, _f32(out_w), _f32(out_b), negative_slope)


def load_openspliceai(paths, name: str | None = None) -> Model:
    """Load an OpenSpliceAI ensemble from PyTorch checkpoint files (or a folder of model_*.pt)."""
    from fastbuild.basemodel.torchfile import load_state_dict

    files = _expand(paths, "*.pt")
    nets = [network_from_state_dict(load_state_dict(p), 1e-5, 0.1, source=str(p)) for p in files]
    flank = _common_flank(nets, files)
    if name is None:
        parent = files[0].parent
        name = f"openspliceai-{parent.parent.name}-{parent.name}" if parent.parent.name else "openspliceai"
    spec = ModelSpec(
        name=name,
        family="openspliceai-torch",
        flank=flank,
        activation="leaky_relu",
        negative_slope=0.1,
        bn_epsilon=1e-5,
        files=member_checksums(files),
    )
    return Model(spec, nets)


# --------------------------------------------------------------------------------------------
# SpliceAI (Keras .h5)
# --------------------------------------------------------------------------------------------


def _describe(exc: Exception) -> str:
    """A one-line description of a low-level error met while reading a weights file."""
    if isinstance(exc, KeyError):
        return f"missing {_one_line(exc.args[0] if exc.args else '?')}"
    return _one_line(f"{type(exc).__name__}: {exc}")


def _one_line(text, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


_MAX_WEIGHT_ELEMENTS = 1 << 26  # per weight array; SpliceAI's largest has 41 * 32 * 32
_H5_TIMEOUT_S = 600
# the isolated reader runs this module as a standalone file (no package import, no numba)
_H5_CHILD_CODE = (
    "import importlib.util as u, sys; s = u.spec_from_file_location('_fastbuild_h5_reader', sys.argv[1]); "
    "m = sys.modules[s.name] = u.module_from_spec(s); s.loader.exec_module(m); m._h5_child_main(sys.argv[2])"
)


@dataclass
class _H5Contents:
    """What the SpliceAI reader needs from a Keras .h5 file, as plain Python and numpy objects."""

    config: str | None  # the model_config attribute (JSON)
    layers: dict | None  # layer -> {short weight name ("kernel", "gamma", ...) -> array}; None: no model_weights
    errors: dict  # layer -> what is wrong with its weights (raised when the layer is used)


def _h5_layer_weights(h5py, g, layer: str) -> dict:
    """The weights of one ``model_weights`` group; raises ValueError saying what is wrong."""
    if not isinstance(g, h5py.Group) or "weight_names" not in g.attrs:
        raise ValueError(f"layer {_one_line(layer)!r} lists no weights")
    out = {}
    for n in g.attrs["weight_names"]:
        n = n.decode() if isinstance(n, bytes) else str(n)
        d = g.get(n)
        if not isinstance(d, h5py.Dataset):
            raise ValueError(f"layer {_one_line(layer)!r} lacks its weight {_one_line(n)!r}")
        if d.dtype.kind not in "fiu" or d.size > _MAX_WEIGHT_ELEMENTS:
            raise ValueError(f"layer {_one_line(layer)!r} has an implausible weight {_one_line(n)!r} {d.shape}")
        out[n.split("/")[-1].split(":")[0]] = np.asarray(d)
    return out


def _h5_read(path) -> _H5Contents:
    """Read the model_config and every layer's weights of a Keras .h5 file (in this process)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FastbuildError(
            f"{path}: cannot read Keras model: truncated, corrupt or not an HDF5 file ({_one_line(exc)})"
        ) from None
    with f:
        raw = f.attrs.get("model_config")
        config = None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
        mw = f.get("model_weights")
        if not isinstance(mw, h5py.Group):
            return _H5Contents(config, None, {})
        layers, errors = {}, {}
        for name in mw:
            try:
                layers[name] = _h5_layer_weights(h5py, mw[name], name)
            except ValueError as exc:
                errors[name] = str(exc)
    return _H5Contents(config, layers, errors)


_PACK_MAGIC = b"FBH5W1\n"


def _contents_pack(c: _H5Contents) -> bytes:
    """``c`` as bytes: a magic line, the length of a JSON manifest (config, errors, and for each
    layer and weight its dtype, shape and offset), the manifest, then every array's bytes. The
    isolated reader's output and the weights cache's files; unpacking is one ``np.frombuffer`` per
    array (an .npz took ~0.1 s for SpliceAI's ~1,000 arrays)."""
    index, parts, at = None if c.layers is None else {}, [], 0
    for layer, ws in (c.layers or {}).items():
        index[layer] = {}
        for short, a in ws.items():
            a = np.ascontiguousarray(a)
            index[layer][short] = [a.dtype.str, list(a.shape), at]
            parts.append(a.tobytes())
            at += a.nbytes
    manifest = json.dumps({"config": c.config, "layers": index, "errors": c.errors}).encode()
    return b"".join([_PACK_MAGIC, len(manifest).to_bytes(8, "little"), manifest, *parts])


def _contents_unpack(data: bytes) -> _H5Contents:
    """Inverse of :func:`_contents_pack` (read-only arrays over ``data``); ValueError when ``data``
    is not such bytes."""
    head = len(_PACK_MAGIC)
    if data[:head] != _PACK_MAGIC or len(data) < head + 8:
        raise ValueError("not packed SpliceAI weights")
    n = int.from_bytes(data[head:head + 8], "little")
    m = json.loads(data[head + 8:head + 8 + n].decode())
    base = head + 8 + n
    layers = m["layers"]
    if layers is not None:
        out = {}
        for layer, ws in layers.items():
            out[layer] = {}
            for short, (dtype, shape, at) in ws.items():
                dt = np.dtype(dtype)
                count = int(np.prod(shape, dtype=np.int64))
                if base + at + count * dt.itemsize > len(data):
                    raise ValueError("packed SpliceAI weights are truncated")
                out[layer][short] = np.frombuffer(data, dt, count, base + at).reshape(shape)
        layers = out
    return _H5Contents(m["config"], layers, m["errors"])


def _h5_child_main(path: str) -> None:
    """Entry point of the isolated reader process: :func:`_h5_read` ``path``, write its packed contents to stdout."""
    import sys

    try:
        c = _h5_read(path)
    except FastbuildError as exc:
        sys.exit(_one_line(exc, 2000))
    except Exception as exc:
        sys.exit(f"{path}: not a SpliceAI weights file ({_describe(exc)})")
    sys.stdout.buffer.write(_contents_pack(c))


class _H5Reader:
    """:func:`_h5_read` of one file in a child process, so that a crash of the HDF5 library on a
    corrupt or crafted file (it segfaults on some) is reported as an error instead of killing
    Python. Starts at once (several run side by side); :meth:`result` waits for it."""

    def __init__(self, path: Path):
        import os
        import subprocess
        import sys

        self.path = path
        here = Path(__file__).resolve()
        paths = [str(here.parents[2]), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        cmd = [sys.executable, "-c", _H5_CHILD_CODE, str(here), str(path)]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        except OSError as exc:
            raise FastbuildError(f"cannot start a reader process for {path}: {_one_line(exc)}") from None

    def close(self) -> None:
        """Stop the child if it still runs (after an error elsewhere)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        for pipe in (self.proc.stdout, self.proc.stderr):
            pipe.close()

    def result(self) -> _H5Contents:
        """The file's contents, or a one-line FastbuildError naming the file."""
        import subprocess

        path = self.path
        try:
            out, err = self.proc.communicate(timeout=_H5_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.close()
            raise FastbuildError(f"{path}: reading this .h5 file took over {_H5_TIMEOUT_S} s (corrupt?)") from None
        rc = self.proc.returncode
        if rc < 0:
            raise FastbuildError(
                f"{path}: the HDF5 library crashed reading this file (signal {-rc}): "
                "it is corrupt or not a Keras .h5 file"
            )
        if rc != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            last = _one_line(lines[-1], 2000) if lines else f"exit status {rc}"
            raise FastbuildError(last if last.startswith(str(path)) else f"{path}: cannot read Keras model ({last})")
        return _contents_unpack(out)


def _keras_graph(raw, path):
    if raw is None:
        raise FastbuildError(f"{path}: not a Keras model file (no model_config)")
    try:
        cfg = json.loads(raw)
        layers = cfg["config"]["layers"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FastbuildError(f"{path}: not a Keras model file (unreadable model_config: {_describe(exc)})") from None
    info, consumers = {}, {}
    for layer in layers:
        name = layer["config"].get("name", layer.get("name"))
        nodes = layer.get("inbound_nodes") or []
        inputs = [n[0] for n in nodes[0]] if nodes else []
        info[name] = (layer["class_name"], layer["config"], inputs)
        for i in inputs:
            consumers.setdefault(i, []).append(name)
    for name in consumers:
        if name not in info:
            raise FastbuildError(f"{path}: the model graph refers to a layer {_one_line(name)!r} it does not define")
    return info, consumers


class _KerasModel:
    """A read SpliceAI Keras .h5 file: its layer graph (name -> (class, config, inputs)) and weights."""

    def __init__(self, contents: _H5Contents, path: Path):
        self.contents, self.path = contents, path
        self.info, self.cons = _keras_graph(contents.config, path)

    def only(self, names, cls, what):
        found = [n for n in names if self.info[n][0] == cls]
        if len(found) != 1:
            raise FastbuildError(f"{self.path}: unexpected SpliceAI graph near {what}")
        return found[0]

    def weights(self, name, keys):
        """The weights of layer ``name``, which must include ``keys``."""
        c, why = self.contents, "(not a SpliceAI weights file?)"
        if c.layers is None:
            raise FastbuildError(f"{self.path}: no model_weights group {why}")
        if name in c.errors:
            raise FastbuildError(f"{self.path}: {c.errors[name]} {why}")
        if name not in c.layers:
            raise FastbuildError(f"{self.path}: no layer {_one_line(name)!r} {why}")
        w = c.layers[name]
        for k in keys:
            if k not in w:
                raise FastbuildError(
                    f"{self.path}: layer {_one_line(name)!r} has no {k} (not a SpliceAI weights file?)"
                )
        return w

    def conv(self, name):
        w = self.weights(name, ("kernel", "bias"))
        k, b = w["kernel"], w["bias"]
        if k.ndim != 3 or b.shape != k.shape[2:]:
            raise FastbuildError(
                f"{self.path}: layer {_one_line(name)!r} has kernel shape {k.shape} and bias shape {b.shape}"
            )
        return k, b

    def bn(self, name):
        w = self.weights(name, ("moving_mean", "moving_variance"))
        c = self.info[name][1]
        n = w["moving_mean"].shape[0]
        gamma = w.get("gamma", np.ones(n)) if c.get("scale", True) else np.ones(n)
        beta = w.get("beta", np.zeros(n)) if c.get("center", True) else np.zeros(n)
        return (gamma, beta, w["moving_mean"], w["moving_variance"]), float(c["epsilon"])

    def residual_units(self, x):
        """Walk the residual units from layer ``x`` (the input convolution).

        Returns (skips, raw units (bn1, conv1, bn2, conv2, dilation), activations, epsilons).
        """
        info, cons, only = self.info, self.cons, self.only
        skips, raw_units, acts, eps_all = {}, [], set(), set()
        while True:
            nxt = cons.get(x, [])
            one = [n for n in nxt if info[n][0] == "Conv1D" and info[n][1]["kernel_size"][0] == 1]
            if one:
                k, b = self.conv(one[0])
                skips[len(raw_units)] = (_f32(_tap0(k, one[0], self.path)), _f32(b))
            bns = [n for n in nxt if info[n][0] == "BatchNormalization"]
            if not bns:
                break
            bn1 = bns[0]
            a1 = only(cons[bn1], "Activation", bn1)
            c1 = only(cons[a1], "Conv1D", a1)
            bn2 = only(cons[c1], "BatchNormalization", c1)
            a2 = only(cons[bn2], "Activation", bn2)
            c2 = only(cons[a2], "Conv1D", a2)
            add = only(cons[c2], "Add", c2)
            if set(info[add][2]) != {c2, x}:
                raise FastbuildError(f"{self.path}: unexpected residual connection at {add}")
            acts.update(info[a][1]["activation"] for a in (a1, a2))
            p1, e1 = self.bn(bn1)
            p2, e2 = self.bn(bn2)
            eps_all.update((e1, e2))
            d1, d2 = (info[c][1]["dilation_rate"][0] for c in (c1, c2))
            if d1 != d2:
                raise FastbuildError(f"{self.path}: convolutions {c1} and {c2} of one unit differ in dilation")
            raw_units.append((p1, self.conv(c1), p2, self.conv(c2), int(d1)))
            x = add
        return skips, raw_units, acts, eps_all


def network_from_keras_h5(path, isolate: bool = True) -> tuple[Network, float, str]:
    """Build a Network from one SpliceAI Keras .h5 file.

    Parameters
    ----------
    path : path
        One of SpliceAI's ``spliceai1..5.h5`` (or a file of the same graph).
    isolate : bool
        Read the HDF5 file in a child process (about 0.3 s more), so that a corrupt or crafted
        file that crashes the HDF5 library gives an error instead of killing this process. Only
        files as trusted as the code (those of the installed ``spliceai`` package) skip it.

    Returns
    -------
    network : Network
    epsilon : float
        The BatchNorm epsilon of the file.
    activation : str
        The activation of the residual units ("relu").

    Raises
    ------
    FastbuildError
        One line naming ``path`` when the file cannot be read (missing, truncated, not HDF5) or
        is not a SpliceAI graph (a missing layer or weight, a wrong shape, non-finite weights).
    """
    path = Path(path)
    return _keras_network(path, _H5Reader(path) if isolate and path.is_file() else None)


def _keras_network(path: Path, reader, sha256: str | None = None, isolate: bool = False) -> tuple[Network, float, str]:
    """:func:`network_from_keras_h5` of a file read by ``reader`` (None: read here; an
    :class:`_H5Contents`: already read, from the weights cache). ``sha256``: the file's checksum,
    to cache what was read (:mod:`fastbuild.basemodel.weights_cache`); ``isolate``: read the file
    in a child process should cached contents fail to make a network."""
    if not path.is_file():
        raise FastbuildError(f"model file not found: {path}")
    try:
        if isinstance(reader, _H5Contents):
            try:
                net, eps, act = _read_keras(_KerasModel(reader, path))
                return _check_network(net, path), eps, act
            except Exception:  # a cached entry that no longer reads as this file: forget it, read the file
                if sha256 is not None:
                    weights_cache.forget(sha256)
                reader = _H5Reader(path) if isolate else None
        try:
            contents = reader.result() if reader is not None else _h5_read(path)
        finally:
            if reader is not None:
                reader.close()
        if sha256 is not None and weights_cache.weights_cache_dir() is not None:
            weights_cache.remember(sha256, _contents_pack(contents))
        net, eps, act = _read_keras(_KerasModel(contents, path))
    except FastbuildError:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError, RuntimeError, ArithmeticError) as exc:
        raise FastbuildError(f"{path}: not a SpliceAI weights file ({_describe(exc)})") from None
    return _check_network(net, path), eps, act


def _cached_contents(sha256: str) -> _H5Contents | None:
    """What the weights cache holds for a file of this checksum (None: nothing usable)."""
    data = weights_cache.cached(sha256)
    if data is None:
        return None
    try:
        return _contents_unpack(data)
    except Exception as exc:  # a damaged cache entry: read the file again (and rewrite the entry)
        log.debug("weights cache entry for %s unreadable: %s", sha256[:12], exc)
        return None


def _read_keras(km: _KerasModel) -> tuple[Network, float, str]:
    """Walk an open SpliceAI Keras graph into a Network (see :func:`network_from_keras_h5`)."""
    path = km.path
    inp = [n for n, v in km.info.items() if v[0] == "InputLayer"]
    if len(inp) != 1:
        raise FastbuildError(f"{path}: expected one input layer (not a SpliceAI weights file?)")
    x = km.only(km.cons.get(inp[0], []), "Conv1D", "the input")
    in_k, in_b = km.conv(x)
    skips, raw_units, acts, eps_all = km.residual_units(x)
    finals = [n for n, v in km.info.items() if v[0] == "Conv1D" and v[1].get("filters") == 3]
    if len(finals) != 1 or len(acts) != 1 or len(eps_all) != 1:
        raise FastbuildError(f"{path}: not a SpliceAI model (unexpected output/activations)")
    (eps,) = eps_all
    (act,) = acts
    if act != "relu":
        raise FastbuildError(f"{path}: unsupported activation {_one_line(act)!r}")
    out_k, out_b = km.conv(finals[0])
    units = [make_residual_block(c1[0].shape[0], d, p1, c1, p2, c2, eps, source=path)
             for p1, c1, p2, c2, d in raw_units]
    in_w, out_w = _tap0(in_k, f"input convolution {x}", path), _tap0(out_k, f"output convolution {finals[0]}", path)
    net = Network(_f32(in_w), _f32(in_b), units, skips, _f32(out_w), _f32(out_b), 0.0)
    return net, eps, act


def find_spliceai_weights() -> list[Path]:
    """The five SpliceAI .h5 files of an installed ``spliceai`` package, without importing it."""
    spec = importlib.util.find_spec("spliceai")
    if spec is None or not spec.submodule_search_locations:
        raise FastbuildError(
            "SpliceAI weights not found: install them with `pip install 'fastbuild-splice[spliceai]'` "
            "(or `pip install --no-deps spliceai==1.3.1`), or give OpenSpliceAI checkpoints with --model"
        )
    for loc in spec.submodule_search_locations:
        files = [Path(loc) / "models" / f"spliceai{i}.h5" for i in range(1, 6)]
        if all(p.is_file() for p in files):
            return files
    try:  # zipped or otherwise non-filesystem installs
        base = importlib.resources.files("spliceai") / "models"
        files = [Path(str(base / f"spliceai{i}.h5")) for i in range(1, 6)]
        if all(p.is_file() for p in files):
            return files
    except Exception:
        pass
    raise FastbuildError("the installed spliceai package has no models/spliceai1..5.h5 files")


def load_spliceai(paths=None, name: str = "spliceai") -> Model:
    """Load the SpliceAI Keras ensemble (default: the five files of the installed package)."""
    files = find_spliceai_weights() if paths is None else _expand(paths, "*.h5")
    checksums = member_checksums(files)
    # what the weights cache holds is used as read; the installed package's own files are as
    # trusted as its code; any other file is read in child processes (see network_from_keras_h5),
    # all started at once
    readers: list = [_cached_contents(sha) for _, sha in checksums]
    try:
        for i, p in enumerate(files):  # in place: a reader that fails to start leaves the others closable
            if readers[i] is None and paths is not None:
                readers[i] = _H5Reader(p)
        loaded = [_keras_network(p, r, sha, isolate=paths is not None)
                  for p, r, (_, sha) in zip(files, readers, checksums, strict=True)]
    finally:
        for r in readers:
            if r is not None and not isinstance(r, _H5Contents):
                r.close()
    nets = [n for n, _, _ in loaded]
    eps = loaded[0][1]
    spec = ModelSpec(
        name=name,
        family="spliceai-keras",
        flank=_common_flank(nets, files),
        activation="relu",
        negative_slope=0.0,
        bn_epsilon=eps,
        files=checksums,
    )
    return Model(spec, nets)


def member_checksums(files: list[Path]) -> tuple:
    """((file name, sha256), ...) of ensemble members; warns when two members are the same file content.

    Byte-identical members (e.g. ``model_10000nt_rs11.pt`` and ``rs14.pt`` of OpenSpliceAI's
    Arabidopsis 10000nt ensemble) make the ensemble average count one model twice.
    """
    try:
        out = tuple((p.name, sha256_file(p)) for p in files)
    except OSError as exc:
        raise FastbuildError(f"{exc.filename or files}: cannot read model file ({exc.strerror or exc})") from None
    by_sha: dict[str, list[str]] = {}
    for p, (_, sha) in zip(files, out, strict=True):
        by_sha.setdefault(sha, []).append(str(p))
    for same in (v for v in by_sha.values() if len(v) > 1):
        log.warning("ensemble members %s are byte-identical (sha256 %s...): the ensemble holds %d distinct models "
                    "of %d, one counted %d times; remove the copies unless that weighting is intended",
                    ", ".join(same), next(k for k, v in by_sha.items() if v is same)[:12], len(by_sha), len(files),
                    len(same))
    return out


def load_model(model="spliceai") -> Model:
    """Resolve a user's model argument.

    ``"spliceai"`` -> the installed SpliceAI weights; otherwise a path (or list of paths) to
    ``.h5`` files (SpliceAI Keras) or ``.pt`` files / a folder of them (OpenSpliceAI).
    """
    if isinstance(model, Model):
        return model
    if isinstance(model, str) and model.lower() == "spliceai":
        return load_spliceai()
    files = _expand(model, None)
    suffixes = {p.suffix.lower() for p in files}
    if suffixes == {".h5"}:
        return load_spliceai(files, name="spliceai-custom")
    if suffixes <= {".pt", ".pth"}:
        return load_openspliceai(files)
    raise FastbuildError(f"cannot tell the model format of {model}: give .h5 (SpliceAI) or .pt (OpenSpliceAI) files")


def _expand(paths, pattern) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob(pattern)) if pattern else sorted(list(p.glob("*.pt")) + list(p.glob("*.h5")))
            if not found:
                raise FastbuildError(f"no model files in {p}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise FastbuildError(f"model file not found: {p}")
    if not out:
        raise FastbuildError("no model files given")
    return out


def _common_flank(nets, files) -> int:
    flanks = {n.flank for n in nets}
    if len(flanks) != 1:
        raise FastbuildError(f"ensemble members have different context sizes: {sorted(flanks)} ({files[0].parent})")
    return flanks.pop()
