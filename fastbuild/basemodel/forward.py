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
import functools
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError
from fastbuild_kernels._numba_config import kernel

# ------------------------------------------------------------------------------------------
# numba kernels
# ------------------------------------------------------------------------------------------


@functools.cache
def im2col_kernels(channels: int) -> tuple:
    """The two tap-matrix kernels, compiled for a constant channel count.

    The channel count is a closure constant of the kernels, so that LLVM unrolls and vectorises
    their channel loops (~1.4x faster, for 32 channels, than a count read from the array shape).
    Each channel count is compiled once per process (and cached on disk, keyed by its value).

    Parameters
    ----------
    channels : int
        Channels of the source stream (the ``C`` of ``src [L, C]``).

    Returns
    -------
    im2col_act, im2col_pairs : numba dispatchers
        See :func:`_im2col_act_kernel` and :func:`_im2col_pairs_kernel`.
    """
    return _im2col_act_kernel(int(channels)), _im2col_pairs_kernel(int(channels))


def _im2col_act_kernel(c_n: int):
    """``im2col_act`` for sources of ``c_n`` channels (a compile-time constant)."""

    @kernel
    def im2col_act(src, start, nrows, width, dilation, scale, shift, slope, dst):
        """dst[i, k*C + c] = act(src[start + i + k*dilation, c] * scale[c] + shift[c]).

        act(v) = max(v, slope*v), which is ReLU for slope 0 and LeakyReLU for 0 < slope < 1."""
        for i in range(nrows):
            out = dst[i]
            for k in range(width):
                row = src[start + i + k * dilation]
                o = k * c_n
                for c in range(c_n):
                    v = row[c] * scale[c] + shift[c]
                    out[o + c] = max(v, v * slope)

    return im2col_act


def _im2col_pairs_kernel(c_n: int):
    """``im2col_pairs`` for sources of ``c_n`` channels (a compile-time constant)."""

    @kernel
    def im2col_pairs(src, start, n_groups, dilation, n_even, scale, shift, slope, a1, a2, a3):
        """Tap matrices of the pairwise (Karatsuba / Winograd F(2,2)) form of a dilated convolution.

        Output rows t and t + D form a pair (p = g*D + r, t = g*2D + r). With
        a = act(src*scale+shift), s = start + t, u_j = a[s + 2jD] and v_j = a[s + (2j+1)D]:
        a1[p, j] = u_j - v_j, a2[p, j] = v_j, a3[p, j-1] = u_j - v_{j-1} (blocks of C columns).
        """
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

    return im2col_pairs


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


# ------------------------------------------------------------------------------------------
# forward pass
# ------------------------------------------------------------------------------------------

_TARGET_BLOCK_BYTES = 1 << 20  # one tap matrix block ~1 MiB (fits L2 with its weights)
DEFAULT_SEGMENT = 1_000_000  # outputs per forward pass of a long sequence (plus 2*flank inputs)


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
    im2col_pairs = im2col_kernels(c_n)[1]
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
        im2col_pairs(src, r0 - half, g, dilation, n_even, scale, shift, slope, a1[:p], a2[:p], a3[:p])
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
    im2col_act = im2col_kernels(c_n)[0]
    rows = _block_rows(width, c_n)
    a = ws.get(f"a{width}", (rows, width * c_n))
    t = ws.get("t", (rows, w.shape[1])) if add else None
    for r0 in range(lo, hi, rows):
        n = min(rows, hi - r0)
        av = a[:n]
        im2col_act(src, r0 - half, n, width, dilation, scale, shift, slope, av)
        if add:
            tv = t[:n]
            np.matmul(av, w, out=tv)
            _add_bias(dst, r0, tv, n, bias)
        else:
            np.matmul(av, w, out=dst[r0 : r0 + n])


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed in float64, returned as float32."""
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits.astype(np.float32)


class ForwardPass:
    """The forward pass of single networks with a fixed number of threads.

    Parameters
    ----------
    threads : int, optional
        Worker threads (default: all CPUs this process may use). With more than one, the blocks
        of every convolution are shared between the workers, each running a single-threaded BLAS.
    pairwise : bool
        Use the pairwise (Karatsuba) form of the dilated convolutions (3J-1 instead of 4J-2 taps
        per two rows; the same results within float32 rounding).

    Scratch buffers are kept per worker and reused across layers and calls.
    """

    def __init__(self, threads: int | None = None, pairwise: bool = True):
        self.threads = int(threads or default_threads())
        self.pairwise = bool(pairwise)
        self._ws = [_Workspace() for _ in range(self.threads)]
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def close(self) -> None:
        """Shut the worker threads down (idempotent)."""
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
        """Softmax outputs of one network.

        Parameters
        ----------
        net : Network
        codes : numpy.ndarray
            One-dimensional codes (A=0, C=1, G=2, T=3, other=4) with ``net.flank`` bases of
            context on each side.

        Returns
        -------
        numpy.ndarray
            float32 ``[len(codes) - 2*flank, 3]`` (neither, acceptor, donor); empty when the
            codes are no longer than both flanks.
        """
        flank = net.flank
        codes = np.asarray(codes)
        if codes.ndim != 1:
            raise FastbuildError("sequence codes must be one-dimensional")
        n_in = codes.shape[0]
        n = n_in - 2 * flank
        if n <= 0:
            return np.zeros((0, 3), dtype=np.float32)
        c_n = net.channels
        im2col_kernels(c_n)  # made here, once, rather than by several workers at a time
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
                self._conv(x, h, lo + hf, hi - hf, hf, u.width, u.dilation, u.bn1_scale, u.bn1_shift, slope,
                           u.w1, None, False, u.k1)
                self._conv(h, x, lo + 2 * hf, hi - 2 * hf, hf, u.width, u.dilation, ones, u.b1, slope,
                           u.w2, u.b2, True, u.k2)
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
        return _softmax(logits)


class NumpyRunner(Runner):
    """The numpy + numba backend: a model bound to a :class:`ForwardPass`.

    Parameters
    ----------
    model : Model, Network or list of Network
        The ensemble; its members' outputs are averaged (in float64).
    threads : int, optional
        Worker threads (default: all CPUs this process may use).
    pairwise : bool
        See :class:`ForwardPass`.
    segment : int
        Long sequences are scored in segments of at most this many outputs (plus both flanks),
        so memory stays bounded (~0.5 KiB per base of segment).
    """

    backend = "numpy"

    def __init__(self, model, threads: int | None = None, pairwise: bool = True, segment: int = DEFAULT_SEGMENT):
        self.networks = networks_of(model)
        if not self.networks:
            raise FastbuildError("no networks to run")
        self.flank = self.networks[0].flank
        self.segment = max(1, int(segment))
        self.engine = ForwardPass(threads, pairwise=pairwise)
        self.threads = self.engine.threads

    def close(self) -> None:
        """Shut the worker threads down (idempotent)."""
        self.engine.close()

    def score_sequence(self, codes_with_flank) -> np.ndarray:
        """Ensemble-averaged scores; see :meth:`fastbuild.basemodel.runner.Runner.score_sequence`."""
        flank = self.flank
        codes, n = check_codes(codes_with_flank, flank)
        out = np.zeros((n, 3), dtype=np.float32)
        for s in range(0, n, self.segment):
            e = min(n, s + self.segment)
            part = codes[s : e + 2 * flank]
            acc = np.zeros((e - s, 3), dtype=np.float64)
            for net in self.networks:
                acc += self.engine.forward(net, part)
            out[s:e] = acc / len(self.networks)
        return out
