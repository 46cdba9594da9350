"""Forward pass of SpliceAI-family networks in numpy + numba, float32, exact to the network.

Layout is channels-last ``[L, C]``. A convolution of width W and dilation D is computed block by
block: a numba kernel builds the block's ``[B, W*C]`` tap matrix directly from the source rows,
applying the pending per-channel affine transform and the activation on the way (BatchNorm-1 of
the unit for the first convolution; the folded bias of the first convolution for the second), and
one BLAS matrix product with the ``[W*C, C]`` weight writes the block's output. The blocks are
sized to stay in cache and are shared between two (or more) worker threads, each running a
single-threaded BLAS.

Convolutions are "valid": the input holds the sequence plus ``flank`` bases on each side and each
layer computes only the rows the next layer needs, so the outputs equal those of the original
zero-padded ("same") networks cropped to the centre, where no padding is ever reached.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastbuild.errors import FastbuildError
from fastbuild_kernels._numba_config import kernel

# ------------------------------------------------------------------------------------------
# numba kernels
# ------------------------------------------------------------------------------------------


@kernel
def _im2col_act(src, start, nrows, width, dilation, scale, shift, slope, dst):
    """dst[i, k*C + c] = act(src[start + i + k*dilation, c] * scale[c] + shift[c]).

    act(v) = max(v, slope*v), which is ReLU for slope 0 and LeakyReLU for 0 < slope < 1."""
    c_n = src.shape[1]
    for i in range(nrows):
        out = dst[i]
        for k in range(width):
            row = src[start + i + k * dilation]
            o = k * c_n
            for c in range(c_n):
                v = row[c] * scale[c] + shift[c]
                out[o + c] = max(v, v * slope)


@kernel
def _im2col_pairs(src, start, n_groups, dilation, n_even, scale, shift, slope, a1, a2, a3):
    """Tap matrices of the pairwise (Karatsuba / Winograd F(2,2)) form of a dilated convolution.

    Output rows t and t + D form a pair (p = g*D + r, t = g*2D + r). With a = act(src*scale+shift),
    s = start + t, u_j = a[s + 2jD] and v_j = a[s + (2j+1)D]:
    a1[p, j] = u_j - v_j, a2[p, j] = v_j, a3[p, j-1] = u_j - v_{j-1} (blocks of C columns).
    """
    c_n = src.shape[1]
    n_rows = 2 * n_even
    buf = np.empty((n_rows, c_n), dtype=np.float32)
    for g in range(n_groups):
        for r in range(dilation):
            p = g * dilation + r
            s = start + g * 2 * dilation + r
            for q in range(n_rows):
                row = src[s + q * dilation]
                b = buf[q]
                for c in range(c_n):
                    v = row[c] * scale[c] + shift[c]
                    b[c] = max(v, v * slope)
            r1 = a1[p]
            r2 = a2[p]
            r3 = a3[p]
            for j in range(n_even):
                o = j * c_n
                e = buf[2 * j]
                od = buf[2 * j + 1]
                for c in range(c_n):
                    r1[o + c] = e[c] - od[c]
                    r2[o + c] = od[c]
            for j in range(1, n_even):
                o = (j - 1) * c_n
                e = buf[2 * j]
                od = buf[2 * j - 1]
                for c in range(c_n):
                    r3[o + c] = e[c] - od[c]


@kernel
def _im2col_act32(src, start, nrows, width, dilation, scale, shift, slope, dst):
    """32-channel specialisation of _im2col_act.

    dst[i, k*C + c] = act(src[start + i + k*dilation, c] * scale[c] + shift[c]).

    act(v) = max(v, slope*v), which is ReLU for slope 0 and LeakyReLU for 0 < slope < 1."""
    c_n = 32  # compile-time constant: lets LLVM unroll and vectorise the channel loops
    for i in range(nrows):
        out = dst[i]
        for k in range(width):
            row = src[start + i + k * dilation]
            o = k * c_n
            for c in range(c_n):
                v = row[c] * scale[c] + shift[c]
                out[o + c] = max(v, v * slope)


@kernel
def _im2col_pairs32(src, start, n_groups, dilation, n_even, scale, shift, slope, a1, a2, a3):
    """32-channel specialisation of _im2col_pairs.

    Tap matrices of the pairwise (Karatsuba / Winograd F(2,2)) form of a dilated convolution.

    Output rows t and t + D form a pair (p = g*D + r, t = g*2D + r). With a = act(src*scale+shift),
    s = start + t, u_j = a[s + 2jD] and v_j = a[s + (2j+1)D]:
    a1[p, j] = u_j - v_j, a2[p, j] = v_j, a3[p, j-1] = u_j - v_{j-1} (blocks of C columns).
    """
    c_n = 32  # compile-time constant: lets LLVM unroll and vectorise the channel loops
    n_rows = 2 * n_even
    buf = np.empty((n_rows, c_n), dtype=np.float32)
    for g in range(n_groups):
        for r in range(dilation):
            p = g * dilation + r
            s = start + g * 2 * dilation + r
            for q in range(n_rows):
                row = src[s + q * dilation]
                b = buf[q]
                for c in range(c_n):
                    v = row[c] * scale[c] + shift[c]
                    b[c] = max(v, v * slope)
            r1 = a1[p]
            r2 = a2[p]
            r3 = a3[p]
            for j in range(n_even):
                o = j * c_n
                e = buf[2 * j]
                od = buf[2 * j + 1]
                for c in range(c_n):
                    r1[o + c] = e[c] - od[c]
                    r2[o + c] = od[c]
            for j in range(1, n_even):
                o = (j - 1) * c_n
                e = buf[2 * j]
                od = buf[2 * j - 1]
                for c in range(c_n):
                    r3[o + c] = e[c] - od[c]


@kernel
def _combine_pairs(dst, row0, n_groups, dilation, m1, m2, m3, bias, add):
    """Rows t = row0 + g*2D + r get m1 + m2, rows t + D get m2 + m3 (p = g*D + r);
    stored, or added to dst together with ``bias`` when ``add``."""
    c_n = dst.shape[1]
    for g in range(n_groups):
        for r in range(dilation):
            p = g * dilation + r
            t0 = row0 + g * 2 * dilation + r
            t1 = t0 + dilation
            if add:
                for c in range(c_n):
                    dst[t0, c] += m1[p, c] + m2[p, c] + bias[c]
                    dst[t1, c] += m2[p, c] + m3[p, c] + bias[c]
            else:
                for c in range(c_n):
                    dst[t0, c] = m1[p, c] + m2[p, c]
                    dst[t1, c] = m2[p, c] + m3[p, c]


@kernel
def _add_bias(x, row0, tmp, nrows, bias):
    """x[row0 + i, c] += tmp[i, c] + bias[c]."""
    c_n = x.shape[1]
    for i in range(nrows):
        for c in range(c_n):
            x[row0 + i, c] += tmp[i, c] + bias[c]


# ------------------------------------------------------------------------------------------
# BLAS thread control (numpy's bundled OpenBLAS)
# ------------------------------------------------------------------------------------------

_BLAS_LOCK = threading.Lock()


def _find_openblas():
    try:
        libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        for path in glob.glob(os.path.join(libdir, "*openblas*")):
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas_", "openblas_"):
                for suffix in ("64_", ""):
                    get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                    set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                    if get is not None and set_ is not None:
                        set_.argtypes = [ctypes.c_int]
                        return get, set_
    except OSError:
        pass
    return None


_OPENBLAS = _find_openblas()


@contextlib.contextmanager
def blas_threads(n: int):
    """Temporarily set numpy's OpenBLAS thread count (no-op where it cannot be found)."""
    if _OPENBLAS is None:
        yield
        return
    get, set_ = _OPENBLAS
    with _BLAS_LOCK:
        old = get()
        set_(int(n))
    try:
        yield
    finally:
        with _BLAS_LOCK:
            set_(int(old))


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------
# forward pass
# ------------------------------------------------------------------------------------------

_TARGET_BLOCK_BYTES = 1 << 20  # one tap matrix block ~1 MiB (fits L2 with its weights)


def _block_rows(width, channels):
    rows = _TARGET_BLOCK_BYTES // (width * channels * 4)
    return int(max(128, min(2048, rows)))


class _Workspace:
    """Per-thread scratch buffers, reused across layers and calls."""

    def __init__(self):
        self.buf = {}

    def get(self, name, shape):
        a = self.buf.get(name)
        if a is None or a.size < shape[0] * shape[1]:
            a = np.empty(shape[0] * shape[1], dtype=np.float32)
            self.buf[name] = a
        return a[: shape[0] * shape[1]].reshape(shape)


def _pair_groups(width, dilation, channels):
    """Super-blocks (2*dilation output rows each) per pairwise block."""
    pairs = _TARGET_BLOCK_BYTES // ((3 * ((width + 1) // 2) - 1) * channels * 4)
    pairs = max(64, min(1024, pairs))
    return max(1, pairs // dilation)


def _conv_pairs(src, dst, lo, n_groups, half, width, dilation, scale, shift, slope, kw, bias, ws, add):
    """Output rows [lo, lo + n_groups*2*dilation) by the pairwise form (3J-1 taps per 2 rows)."""
    c_n = src.shape[1]
    we, weo, wo = kw
    n_even = (width + 1) // 2
    per = _pair_groups(width, dilation, c_n)
    rows = per * dilation
    a1 = ws.get(f"p1_{width}", (rows, n_even * c_n))
    a2 = ws.get(f"p2_{width}", (rows, n_even * c_n))
    a3 = ws.get(f"p3_{width}", (rows, (n_even - 1) * c_n))
    m1, m2, m3 = (ws.get(f"m{i}", (rows, c_n)) for i in range(3))
    zero = bias if bias is not None else shift
    for g0 in range(0, n_groups, per):
        g = min(per, n_groups - g0)
        p = g * dilation
        r0 = lo + g0 * 2 * dilation
        (_im2col_pairs32 if c_n == 32 else _im2col_pairs)(src, r0 - half, g, dilation, n_even, scale, shift, slope, a1[:p], a2[:p], a3[:p])
        np.matmul(a1[:p], we, out=m1[:p])
        np.matmul(a2[:p], weo, out=m2[:p])
        np.matmul(a3[:p], wo, out=m3[:p])
        _combine_pairs(dst, r0, g, dilation, m1[:p], m2[:p], m3[:p], zero, add)


def _conv_range(src, dst, lo, hi, half, width, dilation, scale, shift, slope, w, bias, ws, add, kw=None):
    """Compute output rows [lo, hi) of one convolution (see module doc)."""
    c_n = src.shape[1]
    if kw is not None and width > 1:
        n_groups = (hi - lo) // (2 * dilation)
        if n_groups > 0:
            _conv_pairs(src, dst, lo, n_groups, half, width, dilation, scale, shift, slope, kw, bias, ws, add)
            lo += n_groups * 2 * dilation
        if lo >= hi:
            return
    rows = _block_rows(width, c_n)
    a = ws.get(f"a{width}", (rows, width * c_n))
    t = ws.get("t", (rows, w.shape[1])) if add else None
    for r0 in range(lo, hi, rows):
        n = min(rows, hi - r0)
        av = a[:n]
        (_im2col_act32 if c_n == 32 else _im2col_act)(src, r0 - half, n, width, dilation, scale, shift, slope, av)
        if add:
            tv = t[:n]
            np.matmul(av, w, out=tv)
            _add_bias(dst, r0, tv, n, bias)
        else:
            np.matmul(av, w, out=dst[r0 : r0 + n])


class Runner:
    """Runs networks with a fixed number of threads; reuses its scratch buffers."""

    def __init__(self, threads: int | None = None, pairwise: bool = True):
        self.threads = int(threads or default_threads())
        self.pairwise = bool(pairwise)
        self._ws = [_Workspace() for _ in range(self.threads)]
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _conv(self, src, dst, lo, hi, half, width, dilation, scale, shift, slope, w, bias, add, kw=None):
        if hi <= lo:
            return
        if not self.pairwise:
            kw = None
        args = (half, width, dilation, scale, shift, slope, w, bias)
        if self._pool is None or hi - lo < 2 * 256:
            _conv_range(src, dst, lo, hi, *args, self._ws[0], add, kw)
            return
        k = self.threads
        rows = _block_rows(width, src.shape[1])
        if kw is not None:
            rows = _pair_groups(width, dilation, src.shape[1]) * 2 * dilation
        nblocks = -(-(hi - lo) // rows)
        per = -(-nblocks // k) * rows
        futs = []
        for i in range(k):
            a, b = lo + i * per, min(hi, lo + (i + 1) * per)
            if a < b:
                futs.append(self._pool.submit(_conv_range, src, dst, a, b, *args, self._ws[i], add, kw))
        for f in futs:
            f.result()

    def forward(self, net, codes: np.ndarray) -> np.ndarray:
        """Softmax outputs [len(codes) - 2*flank, 3] (neither, acceptor, donor), float32."""
        flank = net.flank
        codes = np.asarray(codes)
        if codes.ndim != 1:
            raise FastbuildError("sequence codes must be one-dimensional")
        n_in = codes.shape[0]
        n = n_in - 2 * flank
        if n <= 0:
            return np.zeros((0, 3), dtype=np.float32)
        c_n = net.channels
        table = np.empty((5, c_n), dtype=np.float32)
        table[:4] = net.in_w + net.in_b
        table[4] = net.in_b
        idx = np.minimum(codes.astype(np.intp, copy=False), 4)
        x = table[idx]  # [N, C]
        h = np.empty_like(x)
        w0, b0 = net.skips[0]
        skip = x[flank : flank + n] @ w0
        skip += b0
        lo, hi = 0, n_in
        ones = np.ones(c_n, dtype=np.float32)
        slope = np.float32(net.negative_slope)
        tmp = np.empty((n, c_n), dtype=np.float32)
        with blas_threads(1 if self._pool is not None else self.threads):
            for ui, u in enumerate(net.units):
                hf = u.half
                self._conv(x, h, lo + hf, hi - hf, hf, u.width, u.dilation, u.bn1_scale, u.bn1_shift, slope, u.w1, None, False, u.k1)
                self._conv(h, x, lo + 2 * hf, hi - 2 * hf, hf, u.width, u.dilation, ones, u.b1, slope, u.w2, u.b2, True, u.k2)
                lo += 2 * hf
                hi -= 2 * hf
                if ui + 1 in net.skips:
                    ws, bs = net.skips[ui + 1]
                    np.matmul(x[flank : flank + n], ws, out=tmp)
                    skip += tmp
                    skip += bs
        del x, h, tmp
        logits = skip @ net.out_w
        logits += net.out_b
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits.astype(np.float32)


_DEFAULT_RUNNER = None


def default_runner() -> Runner:
    global _DEFAULT_RUNNER
    if _DEFAULT_RUNNER is None:
        _DEFAULT_RUNNER = Runner()
    return _DEFAULT_RUNNER


DEFAULT_SEGMENT = 1_000_000


def score_sequence(model, codes_with_flank, runner: Runner | None = None, segment: int = DEFAULT_SEGMENT, backend: str = "numpy") -> np.ndarray:
    """Ensemble-averaged scores for a sequence that already carries the model's flanks.

    ``codes_with_flank``: uint8 codes (A=0, C=1, G=2, T=3, other=4) of length n + 2*flank, in
    transcript orientation. Returns float32 ``[n, 3]`` in the model's channel order
    (neither, acceptor, donor). Long sequences are processed in segments of at most
    ``segment`` outputs (plus flanks), so memory stays bounded (~0.5 KiB per base of segment).

    ``backend``: "numpy" (default) or "onnx" (onnxruntime, optional extra; also chosen when
    ``runner`` is a :class:`fastbuild.basemodel.onnx_backend.OnnxRunner`, which then sets its
    own segment size unless ``segment`` is given explicitly).
    """
    if backend != "numpy" or getattr(runner, "backend", "numpy") != "numpy":
        if backend not in ("numpy", "onnx"):
            raise FastbuildError(f"unknown base-model backend {backend!r} (use 'numpy' or 'onnx')")
        from fastbuild.basemodel.onnx_backend import score_sequence_onnx

        return score_sequence_onnx(model, codes_with_flank, runner=runner, segment=None if segment == DEFAULT_SEGMENT else segment)
    from fastbuild.basemodel.models import Model, Network

    nets = model.networks if isinstance(model, Model) else [model] if isinstance(model, Network) else list(model)
    runner = runner or default_runner()
    flank = nets[0].flank
    codes = np.ascontiguousarray(codes_with_flank, dtype=np.uint8)
    n = codes.shape[0] - 2 * flank
    if n < 0:
        raise FastbuildError(f"sequence shorter than the model's two flanks ({2 * flank} nt)")
    out = np.zeros((n, 3), dtype=np.float32)
    for s in range(0, n, segment):
        e = min(n, s + segment)
        part = codes[s : e + 2 * flank]
        acc = np.zeros((e - s, 3), dtype=np.float64)
        for net in nets:
            acc += runner.forward(net, part)
        out[s:e] = acc / len(nets)
    return out
