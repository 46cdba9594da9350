"""Optional PyTorch engine ("torch"): CUDA when torch sees a GPU, else the CPU; exact in float32.

The network is built from the very same folded :class:`~fastbuild.basemodel.models.Network`
weights as every other engine (channels-last ``[W*C, C]`` matrices, BatchNorm-2 folded into
conv1), turned channels-first (``[C_out, C_in, W]``) for ``torch.nn.functional.conv1d``; all
convolutions are "valid" (each layer computes only the rows the next needs), so an output
depends on its own ``2*flank + 1`` inputs only.

**Tiles.** The sequences of one :meth:`TorchRunner.score_many` call (each with both flanks) are
laid end to end in one stream; output ``j`` of the stream is the network applied to inputs
``j .. j + 2*flank``, so sequence ``k`` at stream offset ``o`` has its ``n`` scores at outputs
``o .. o + n - 1`` (the ``2*flank`` outputs between two sequences are never used). The stream is
cut into tiles of ``tile`` outputs that overlap by the receptive field (``tile + 2*flank``
inputs, consecutive tiles ``tile`` apart), and up to ``batch`` tiles go through one forward call
as one ``[batch, tile + 2*flank]`` tensor, whatever the sequences' lengths: many short genes
share a few large batches, a long one never needs one giant tensor, and a tile seam changes no
score (each output still sees exactly its own window; only float32 rounding of the convolution
algorithm may differ, well within 1e-5). The last tile of a call is shortened to a multiple of
:data:`TAIL_QUANTUM` outputs (N-padded), so a short call does not pay for a whole tile. The price:
each sequence costs ``n + 2*flank`` outputs (a sequence scored alone costs about ``n + 1.35*flank``
with the 10000nt layer widths, its context shrinking layer by layer), and each tile ``2*flank``
inputs of overlap (7.6% at the CUDA defaults with the 10000nt models).

**Transfers.** On CUDA each batch's codes (1 byte per input) go through one of two pinned host
buffers with a ``non_blocking`` copy, and the scores come back the same way: while the GPU runs
batch ``i`` (queued asynchronously), the host copies batch ``i - 1``'s scores into the results
and fills the pinned buffer of batch ``i + 1`` (each buffer is reused only after the event of
its previous copy has completed).

**Memory.** One batch holds at its peak four float32 streams ``[B, C, L]`` (``L = tile +
2*flank``, ``B = batch``; the residual stream, BatchNorm-1 + activation, conv1's output, the
skip sum -- in bf16 two of them are bf16 and the residual add allocates a float32 one), the int64
codes and the float64 scores, so device memory stays below :meth:`TorchRunner.memory_bound_bytes`::

    B * L * (16*C + 9) + B * tile * 60 bytes            (float32 / bf16; x2 streams for float64)

plus cuDNN's workspace: at the CUDA defaults (``tile`` 131,072, ``batch`` 8) and 32 channels
with the 10000nt models (``flank`` 5,000), 8 * 141,072 * 521 + 8 * 131,072 * 60 bytes = 651 MB,
whatever the number or length of the sequences (the members run one after another; their
weights, ~2.8 MB each for the 10000nt models, come on top). Host memory: the stream (1 byte per input),
the results (12 bytes per score) and two pinned buffers of one batch each.

**Precision.** ``precision="float32"`` (the default) is exact: TF32 is switched off for
convolutions and matmuls while the runner computes (:func:`exact_float32`, restoring the
caller's settings afterwards), the softmax and the ensemble mean run in float64 as in the numpy
engine; every member is held within 1e-5 of the float64 reference. ``precision="bf16"`` (opt-in,
CUDA only, *not* exact) runs the dilated convolutions in bfloat16 on tensor cores (float32
accumulation) while the residual stream, skip sums and output layer stay float32. float16 is not
offered: on the GPUs with bf16 tensor cores it is no faster, and its range (6.5e4) is unsafe for
an unnormalised residual stream. ``precision="float64"`` is a reference mode for checks (not a
store precision).

**Devices.** ``device=None`` picks, in this order: the :data:`DEVICE_ENV` environment variable
(``FASTBUILD_CUDA_DEVICE=1``, ``cuda:1`` or ``cpu``); in a worker process of a local pool
(``multiprocessing.current_process()._identity == (k,)``, the k-th process the parent started),
``cuda:{(k - 1) % device_count}``, so ``--jobs N`` workers spread over the GPUs one process each;
else the current CUDA device; the CPU when torch sees no GPU.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError

INSTALL_HINT = (
    "the torch backend needs PyTorch: install fastbuild-splice[torch] (pip install torch; a CUDA build for GPUs)"
)
DEVICE_ENV = "FASTBUILD_CUDA_DEVICE"  # "0", "cuda:1" or "cpu": the device of every runner of this process
PRECISIONS = ("float32", "bf16", "float64")  # float64: a reference mode for checks, not a store precision
CUDA_TILE = 131_072  # scored outputs per tile on CUDA (the 10000nt models add 10,000 inputs: 7.6% overlap)
CUDA_BATCH = 8  # tiles per forward call on CUDA
CPU_TILE = 100_000  # on the CPU (one tile per call: batching gains nothing there)
CPU_BATCH = 1
TAIL_QUANTUM = 4096  # the last tile of a call is shortened to a multiple of this many outputs
_GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/dev/kfd")  # NVIDIA, WSL2, ROCm


def require_torch():
    """The ``torch`` module; FastbuildError with the install hint when it does not import."""
    try:
        import torch
    except ImportError as exc:
        raise FastbuildError(f"{INSTALL_HINT} ({exc})") from None
    return torch


def torch_available() -> bool:
    """True when torch imports (the torch engine can run, on the CPU at least)."""
    try:
        require_torch()
        return True
    except FastbuildError:
        return False


def _may_have_gpu() -> bool:
    """False when this machine surely has no GPU torch could use (Linux without GPU device files
    or a container's NVIDIA_VISIBLE_DEVICES, macOS), so that choosing an engine does not import
    torch (~2 s) for nothing."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        visible = os.environ.get("NVIDIA_VISIBLE_DEVICES", "").strip().lower()
        return visible not in ("", "void", "none") or any(Path(p).exists() for p in _GPU_DEVICE_FILES)
    return True


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA device (``torch.cuda.is_available()``), unless
    :data:`DEVICE_ENV` is "cpu" (then runners use the CPU, and "auto" picks a CPU engine)."""
    if os.environ.get(DEVICE_ENV, "").strip().lower() == "cpu":
        return False
    if not _may_have_gpu() or not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def pick_device(env: str | None, device_count: int, identity: tuple = (), current: int = 0) -> str:
    """The device a runner uses: ``"cpu"`` or ``"cuda:N"``.

    Parameters
    ----------
    env : str or None
        The value of :data:`DEVICE_ENV` (``"1"``, ``"cuda:1"``, ``"cuda"``, ``"cpu"``); wins when set.
    device_count : int
        CUDA devices torch sees (0: the CPU).
    identity : tuple
        ``multiprocessing.current_process()._identity``: ``(k,)`` in the k-th process a parent
        started (a local ``--jobs`` worker), ``()`` in a process started otherwise.
    current : int
        The current CUDA device, used outside worker processes.

    Returns
    -------
    str
        ``cuda:{(k - 1) % device_count}`` in the k-th worker (one process per GPU, round robin).

    Raises
    ------
    FastbuildError
        For an ``env`` that is not a device, or names a device torch does not see.
    """
    if env is not None and env.strip():
        value = env.strip().lower()
        if value == "cpu":
            return "cpu"
        if value == "cuda":
            value = str(current)
        index = value[5:] if value.startswith("cuda:") else value
        if not index.isdigit():
            raise FastbuildError(f"{DEVICE_ENV}={env!r} is not a device (use a CUDA device index, cuda:N or cpu)")
        if int(index) >= device_count:
            raise FastbuildError(f"{DEVICE_ENV}={env!r}: torch sees {device_count} CUDA device(s) here")
        return f"cuda:{int(index)}"
    if device_count <= 0:
        return "cpu"
    if identity:
        return f"cuda:{(int(identity[0]) - 1) % device_count}"
    return f"cuda:{current}"


def default_device() -> str:
    """:func:`pick_device` for this process (environment, worker identity, devices torch sees)."""
    env = os.environ.get(DEVICE_ENV)
    if (env is None or not env.strip()) and not _may_have_gpu():
        return "cpu"
    torch = require_torch()
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    current = torch.cuda.current_device() if count else 0
    return pick_device(env, count, tuple(multiprocessing.current_process()._identity), current)


def check_precision(precision: str, device_type: str) -> str:
    """``precision`` if the torch engine runs it on ``device_type`` ("cpu" / "cuda")."""
    if precision not in PRECISIONS:
        raise FastbuildError(f"unknown precision {precision!r} for the torch backend (use 'float32' or 'bf16')")
    if precision == "bf16" and device_type != "cuda":
        raise FastbuildError(
            "precision 'bf16' needs a CUDA device: the torch engine runs bf16 on GPUs only and torch sees none here "
            "(use float32, or --backend openvino for bf16 on the CPU)"
        )
    return precision


# ------------------------------------------------------------------------------------------
# exact float32: TF32 off, scoped
# ------------------------------------------------------------------------------------------

_FP32_KNOBS = (("cuda", "matmul"), ("cudnn", "conv"), ("mkldnn", "matmul"), ("mkldnn", "conv"))


def _precision_knobs(torch) -> list:
    """The per-operation ``fp32_precision`` settings of torch >= 2.9 (empty on older torch)."""
    out = []
    for backend, op in _FP32_KNOBS:
        obj = getattr(getattr(torch.backends, backend, None), op, None)
        if obj is not None and hasattr(obj, "fp32_precision"):
            out.append(obj)
    return out


@contextlib.contextmanager
def exact_float32(threads: int | None = None, benchmark: bool | None = None):
    """Within the block: float32 convolutions and matmuls in full float32 (no TF32, no reduced
    CPU precision); ``threads`` CPU threads; cuDNN ``benchmark`` as given. All restored after.

    On torch < 2.9: ``torch.backends.cuda.matmul.allow_tf32 = False``,
    ``torch.backends.cudnn.allow_tf32 = False`` and ``torch.set_float32_matmul_precision("highest")``.
    On torch >= 2.9 the same through the per-operation ``fp32_precision = "ieee"`` settings (cuBLAS
    matmul, cuDNN conv, oneDNN matmul and conv): there, reading the legacy flags raises once
    anything in the process used the new ones, so the legacy flags cannot be saved and restored.
    """
    torch = require_torch()
    knobs = _precision_knobs(torch)
    if knobs:
        saved = [k.fp32_precision for k in knobs]
        for k in knobs:
            k.fp32_precision = "ieee"
    else:
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                 torch.get_float32_matmul_precision())
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    old_threads, old_benchmark = torch.get_num_threads(), torch.backends.cudnn.benchmark
    try:
        if threads:
            torch.set_num_threads(int(threads))
        if benchmark is not None:
            torch.backends.cudnn.benchmark = bool(benchmark)
        yield
    finally:
        torch.backends.cudnn.benchmark = old_benchmark
        if threads and torch.get_num_threads() != old_threads:
            torch.set_num_threads(old_threads)
        if knobs:
            for k, v in zip(knobs, saved, strict=True):
                k.fp32_precision = v
        else:
            torch.set_float32_matmul_precision(saved[2])
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[0], saved[1]


# ------------------------------------------------------------------------------------------
# one member on the device
# ------------------------------------------------------------------------------------------


class _Member:
    """One network's weights as device tensors: convolutions ``[C_out, C_in, W]`` (conv1/conv2
    of the residual units in ``conv_dtype``), everything else in ``dtype``."""

    def __init__(self, net, device, dtype, conv_dtype):
        import torch

        def t(a, dt=dtype):
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64)).to(device=device, dtype=dt)

        def conv(w, width, dt=dtype):  # [W*C_in, C_out] (row k*C_in + c) -> [C_out, C_in, W]
            w = np.asarray(w, np.float64)
            return t(w.reshape(width, w.shape[0] // width, w.shape[1]).transpose(2, 1, 0), dt)

        c = net.channels
        table = np.empty((5, c), dtype=np.float64)
        table[:4] = np.asarray(net.in_w, np.float64) + net.in_b
        table[4] = net.in_b
        self.table = t(table)  # the input convolution's output for codes A, C, G, T, N
        self.slope = float(net.negative_slope)
        self.units = [(t(u.bn1_scale).view(1, c, 1), t(u.bn1_shift).view(1, c, 1), conv(u.w1, u.width, conv_dtype),
                       t(u.b1, conv_dtype), conv(u.w2, u.width, conv_dtype), t(u.b2, conv_dtype), u.dilation, u.half)
                      for u in net.units]
        self.skips = {k: (conv(w, 1), t(b)) for k, (w, b) in net.skips.items()}
        self.out = (conv(net.out_w, 1), t(net.out_b))
        self.flank = net.flank

    def _act(self, v):
        import torch

        if self.slope == 0.0:
            return torch.relu_(v)
        return torch.nn.functional.leaky_relu_(v, self.slope)

    def skip_sum(self, idx, n_out):
        """The summed skip connections ``[B, C, n_out]`` of codes ``idx`` ``[B, n_out + 2*flank]``."""
        import torch
        import torch.nn.functional as F

        x = F.embedding(idx, self.table).transpose(1, 2).contiguous()  # the residual stream [B, C, L]
        w, b = self.skips[0]
        skip = F.conv1d(x[:, :, self.flank : self.flank + n_out], w, b)
        for ui, (scale, shift, w1, b1, w2, b2, dil, half) in enumerate(self.units):
            a = self._act(torch.addcmul(shift, x, scale))  # BatchNorm-1 + activation
            h = self._act(F.conv1d(a.to(w1.dtype), w1, b1, dilation=dil))  # BatchNorm-2 folded into conv1
            del a
            y = F.conv1d(h, w2, b2, dilation=dil)
            del h
            crop = x[:, :, 2 * half : x.shape[2] - 2 * half]
            if y.dtype == x.dtype:
                x = y.add_(crop)
            else:  # bf16 convolutions, float32 residual stream
                x = crop + y
            del y, crop
            if ui + 1 in self.skips:
                w, b = self.skips[ui + 1]
                off = (x.shape[2] - n_out) // 2
                skip += F.conv1d(x[:, :, off : off + n_out], w, b)
        return skip

    def probs(self, idx, n_out):
        """Softmax outputs, float64 ``[B, 3, n_out]`` (the output layer in ``dtype``, the softmax in float64)."""
        import torch
        import torch.nn.functional as F

        logits = F.conv1d(self.skip_sum(idx, n_out), *self.out)
        return torch.softmax(logits.to(torch.float64), dim=1)


# ------------------------------------------------------------------------------------------
# packing sequences into tiles
# ------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Sequences laid end to end (see the module docstring) and the batches that score them."""

    stream: np.ndarray  # uint8 codes (clipped to 4), N-padded to the last tile
    index: np.ndarray  # positions in the caller's list of the sequences with outputs
    starts: np.ndarray  # their first output in the stream
    ends: np.ndarray  # one past their last output
    batches: list  # (first output, tiles, outputs per tile)


def plan_tiles(lengths, flank: int, tile: int, batch: int, quantum: int = TAIL_QUANTUM) -> list[tuple[int, int, int]]:
    """Batches covering a stream of ``sum(lengths)`` inputs: ``(first output, tiles, outputs per tile)``.

    Full tiles of ``tile`` outputs, ``batch`` at a time; the rest (if any) as one tile of the
    rest rounded up to a multiple of ``quantum`` (at most ``tile``).
    """
    n_out = int(sum(lengths)) - 2 * flank
    if n_out <= 0:
        return []
    full, rest = divmod(n_out, tile)
    out = [(b0 * tile, min(batch, full - b0), tile) for b0 in range(0, full, batch)]
    if rest:
        out.append((full * tile, 1, min(tile, -(-rest // quantum) * quantum)))
    return out


def _pack(checked, flank: int, tile: int, batch: int) -> _Plan:
    """The :class:`_Plan` of checked sequences ``[(codes, n), ...]`` (those with no output left out)."""
    keep = [i for i, (_, n) in enumerate(checked) if n > 0]
    lengths = [checked[i][0].shape[0] for i in keep]
    batches = plan_tiles(lengths, flank, tile, batch)
    size = (batches[-1][0] + (batches[-1][1] - 1) * tile + batches[-1][2] + 2 * flank) if batches else 0
    stream = np.full(size, 4, dtype=np.uint8)
    starts = np.zeros(len(keep), dtype=np.int64)
    pos = 0
    for j, i in enumerate(keep):
        codes = checked[i][0]
        np.minimum(codes, 4, out=stream[pos : pos + codes.shape[0]])
        starts[j] = pos
        pos += codes.shape[0]
    ends = starts + np.asarray([checked[i][1] for i in keep], dtype=np.int64)
    return _Plan(stream, np.asarray(keep, dtype=np.int64), starts, ends, batches)


# ------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------


class TorchRunner(Runner):
    """The PyTorch backend (CUDA, else the CPU): tiles of the sequences batched through the ensemble.

    Parameters
    ----------
    model : Model, Network or list of Network
        The ensemble; members' softmax outputs are averaged in float64.
    threads : int, optional
        CPU threads torch uses while this runner computes (default: all CPUs this process may use).
    precision : {"float32", "bf16", "float64"}
        "float32" (default, exact), "bf16" (CUDA only, not exact) or "float64" (a reference for
        checks). See the module docstring.
    device : str, optional
        "cpu", "cuda" or "cuda:N" (default: :func:`default_device`).
    tile : int, optional
        Scored outputs per tile (default :data:`CUDA_TILE` on CUDA, :data:`CPU_TILE` on the CPU).
    batch : int, optional
        Tiles per forward call (default :data:`CUDA_BATCH` / :data:`CPU_BATCH`).
    cudnn_benchmark : bool
        Let cuDNN time its algorithms for each new shape (tiles have few shapes); off by default,
        so the algorithms are those the exactness checks ran.

    Attributes
    ----------
    backend : str
        "torch".
    precision : str
        As asked (stores record it with the engine).
    device : torch.device

    Raises
    ------
    FastbuildError
        Without torch (with the install hint), for an unknown precision, or for "bf16" off CUDA.
    """

    backend = "torch"

    def __init__(self, model, threads: int | None = None, precision: str = "float32", device: str | None = None,
                 tile: int | None = None, batch: int | None = None, cudnn_benchmark: bool = False):
        torch = require_torch()
        self.networks = networks_of(model)
        if not self.networks:
            raise FastbuildError("no networks to run")
        self.flank = self.networks[0].flank
        self.threads = int(threads or default_threads())
        self.device = torch.device(device or default_device())
        self.precision = check_precision(precision, self.device.type)
        cuda = self.device.type == "cuda"
        self.tile = max(1, int(tile or (CUDA_TILE if cuda else CPU_TILE)))
        self.batch = max(1, int(batch or (CUDA_BATCH if cuda else CPU_BATCH)))
        self.cudnn_benchmark = bool(cudnn_benchmark)
        dtype = torch.float64 if precision == "float64" else torch.float32
        conv_dtype = torch.bfloat16 if precision == "bf16" else dtype
        self._members = [_Member(n, self.device, dtype, conv_dtype) for n in self.networks]
        self._pinned = None  # two (codes, scores) pinned buffer pairs, made on first use (CUDA)

    def close(self) -> None:
        """Free the device tensors and pinned buffers (idempotent)."""
        self._members = None
        self._pinned = None

    def memory_bound_bytes(self) -> int:
        """Most device memory one batch takes, cuDNN's workspace aside (see the module docstring):
        ``B*L*(4*C*s + 9) + B*tile*60`` bytes, ``L = tile + 2*flank``, ``s`` 4 bytes (8 in float64)."""
        c = max(n.channels for n in self.networks)
        s = 8 if self.precision == "float64" else 4
        n_in = self.tile + 2 * self.flank
        return self.batch * n_in * (4 * c * s + 9) + self.batch * self.tile * 60

    def score_sequence(self, codes_with_flank) -> np.ndarray:
        """Ensemble-averaged scores; see :meth:`fastbuild.basemodel.runner.Runner.score_sequence`."""
        return self.score_many([codes_with_flank])[0]

    def score_many(self, sequences) -> list:
        """Scores of several sequences, each with both flanks: ``[score_sequence(s) for s in sequences]``.

        All of them are laid end to end and scored in batches of tiles (module docstring).
        """
        if self._members is None:
            raise FastbuildError("this torch runner has been closed")
        checked = [check_codes(c, self.flank) for c in sequences]
        out = [np.zeros((n, 3), dtype=np.float32) for _, n in checked]
        plan = _pack(checked, self.flank, self.tile, self.batch)
        if plan.batches:
            import torch

            cuda = torch.cuda.device(self.device) if self.device.type == "cuda" else contextlib.nullcontext()
            with cuda, torch.inference_mode(), exact_float32(self.threads, self.cudnn_benchmark):
                self._run(plan, out)
        return out

    def _run(self, plan: _Plan, out: list) -> None:
        """Score every batch of ``plan`` into ``out``, copying batch i-1's scores out while batch i runs."""
        pending = None
        for i, (first, tiles, length) in enumerate(plan.batches):
            idx = self._upload(plan.stream, first, tiles, length, i % 2)
            scores = self._forward(idx, length)
            done = self._download(scores, i % 2)
            if pending is not None:
                self._scatter(plan, out, *pending)
            pending = (first, *done)
        self._scatter(plan, out, *pending)

    def _buffers(self, slot: int) -> list:
        """[codes buffer, its copy's event, scores buffer, its copy's event] of ``slot`` (pinned, CUDA)."""
        import torch

        if self._pinned is None:
            n_in = (self.batch - 1) * self.tile + self.tile + 2 * self.flank
            self._pinned = [[torch.empty(n_in, dtype=torch.uint8, pin_memory=True), None,
                             torch.empty((self.batch * self.tile, 3), dtype=torch.float32, pin_memory=True), None]
                            for _ in range(2)]
        return self._pinned[slot]

    def _upload(self, stream, first, tiles, length, slot):
        """The codes of one batch on the device, int64 ``[tiles, length + 2*flank]``."""
        import torch

        span = length + 2 * self.flank
        seg = stream[first : first + (tiles - 1) * self.tile + span]
        if self.device.type != "cuda":
            codes = torch.from_numpy(seg)
        else:
            buf = self._buffers(slot)
            if buf[1] is not None:
                buf[1].synchronize()  # the previous copy from this buffer has finished
            buf[0][: seg.shape[0]].numpy()[:] = seg
            codes = buf[0][: seg.shape[0]].to(self.device, non_blocking=True)
            buf[1] = torch.cuda.Event()
            buf[1].record()
        return codes.unfold(0, span, self.tile).long()

    def _forward(self, idx, length):
        """Mean scores of the members, float32 ``[tiles * length, 3]`` on the device."""
        acc = None
        for m in self._members:
            p = m.probs(idx, length)
            acc = p if acc is None else acc.add_(p)
        acc /= len(self._members)
        return acc.float().transpose(1, 2).reshape(-1, 3)

    def _download(self, scores, slot):
        """(host array of ``scores``, event to wait for or None)."""
        import torch

        if self.device.type != "cuda":
            return scores.numpy(), None
        buf = self._buffers(slot)
        host = buf[2][: scores.shape[0]]
        host.copy_(scores, non_blocking=True)
        buf[3] = torch.cuda.Event()
        buf[3].record()
        return host.numpy(), buf[3]

    @staticmethod
    def _scatter(plan: _Plan, out: list, first: int, host: np.ndarray, event) -> None:
        """Copy a batch's scores (stream outputs ``first ..``) into the results of their sequences."""
        if event is not None:
            event.synchronize()
        lo, hi = first, first + host.shape[0]
        k = int(np.searchsorted(plan.ends, lo, side="right"))
        while k < plan.starts.shape[0] and plan.starts[k] < hi:
            a, b = max(lo, int(plan.starts[k])), min(hi, int(plan.ends[k]))
            s = int(plan.starts[k])
            out[int(plan.index[k])][a - s : b - s] = host[a - lo : b - lo]
            k += 1
