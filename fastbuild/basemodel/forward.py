"""Forward pass of SpliceAI-family networks in numpy + numba, float32, exact to the network.

Layout is channels-last ``[L, C]``. Two methods compute the convolutions:

* "direct" (the default wherever :func:`direct_supported`): register-tiled kernels, written in
  LLVM IR through numba intrinsics, read the taps of a tile of output rows straight from the
  activated source stream and accumulate ``src[t + k*D] @ W_k`` in vector registers with FMAs
  (AVX-512 vectors where the CPU has them, else 8 lanes); their epilogues add the bias and apply
  the activation (first convolution of a unit), or add the residual and compute the next unit's
  BatchNorm-1 + activation into a second stream (second convolution), so that every activation
  is computed once per layer and no tap matrix is ever written. Dilated convolutions use the
  two-level pairwise (Karatsuba) form by default (``levels=2``, dilations >= 4; dilation 1 runs
  plain, where both are as fast): one level pairs rows t and t + D, which share
  sum_j (E_j + O_j) a[t + (2j+1)D], the rest coming from the difference stream
  d[s] = a[s] - a[s + D] (three convolutions of ~W/2 taps for two rows instead of two of W); the
  second level does the same to each of those three, pairing rows t and t + 2D, so that four
  rows t + mD cost nine convolutions of ~W/4 taps (9W/4 instead of 4W taps: 41-43% fewer
  multiplications at widths 11-41; see :func:`_quad_codegen`). Its difference streams are
  computed per chunk of ~2k rows, in cache. ``levels=1`` keeps the one-level form (dilations
  >= 10). The skip connections are width-1 convolutions of the same kernels. No BLAS; sums run
  in a fixed order, so results do not depend on the thread count.
* "im2col": a numba kernel builds each block's ``[B, W*C]`` tap matrix from the source rows,
  applying the pending per-channel affine transform and the activation on the way, and one BLAS
  matrix product with the ``[W*C, C]`` weight writes the block's output (pairwise form for all
  dilations, blocks sized to stay in cache, single-threaded BLAS per worker).

Either way the rows of every convolution are shared between two (or more) worker threads;
:meth:`NumpyRunner.score_many` instead gives each worker whole (sequence, member) jobs of a
batch of short sequences, so that the workers never wait for each other inside a layer.

Convolutions are "valid": the input holds the sequence plus ``flank`` bases on each side and each
layer computes only the rows the next layer needs, so the outputs equal those of the original
zero-padded ("same") networks cropped to the centre, where no padding is ever reached.

This module is the runner side: :class:`ForwardPass` (which kernel computes which rows, on which
worker) and :class:`NumpyRunner` (the backend), with their Python-level helpers (scratch
workspaces, im2col blocking, softmax). The numba kernels and the LLVM IR of the direct tiles are
in :mod:`fastbuild.basemodel.forward_numba_fns`; OpenBLAS thread control is in
:mod:`fastbuild.basemodel.blas`.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastbuild.basemodel.blas import blas_threads
from fastbuild.basemodel.forward_numba_fns import (
    VECTOR_WIDTH,
    _add_bias,
    _combine_pairs,
    _conv_act_direct,
    _conv_res_direct,
    _dense64,
    _diff_rows,
    _pairs_act_direct,
    _pairs_res_direct,
    _quad_act_direct,
    _quad_res_direct,
    direct_supported,
    geometry,
    im2col_kernels,
    pair_tile_rows,
    tile_rows,
)
from fastbuild.basemodel.layers import _act, _c32, _member_mean, _softmax, _table
from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError

# ------------------------------------------------------------------------------------------
# Python-level helpers: scratch buffers, im2col blocking, softmax
# ------------------------------------------------------------------------------------------

_TARGET_BLOCK_BYTES = 1 << 20  # one tap matrix block ~1 MiB (fits L2 with its weights)
DEFAULT_SEGMENT = 1_000_000  # outputs per forward pass of a long sequence (plus 2*flank inputs)
PAIRS_FROM_DILATION = 10  # direct method, level 1: pairwise form for dilations >= this (tiles fit a half period)
QUAD_FROM_DILATION = 4  # direct method, level 2 (the default): two-level form for dilations >= this (plain at 1: ties)
QUAD_CHUNK_ROWS = 2048  # two-level form: output rows per chunk of difference streams (kept in L2)
METHODS = ("direct", "im2col")  # ForwardPass(method=...)


def _block_rows(width, channels):
    """Rows per im2col block: a tap matrix of about :data:`_TARGET_BLOCK_BYTES`, 128 to 2048 rows."""
    rows = _TARGET_BLOCK_BYTES // (width * channels * 4)
    return int(max(128, min(2048, rows)))


class _Workspace:
    """Per-thread scratch buffers, reused across layers and calls."""

    def __init__(self):
        self.buf = {}

    def get(self, name, shape):
        size = int(np.prod(shape))
        a = self.buf.get(name)
        if a is None or a.size < size:
            a = np.empty(size, dtype=np.float32)
            self.buf[name] = a
        return a[:size].reshape(shape)


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


# ------------------------------------------------------------------------------------------
# the forward pass and the numpy backend
# ------------------------------------------------------------------------------------------


class ForwardPass:
    """The forward pass of single networks with a fixed number of threads.

    Parameters
    ----------
    threads : int, optional
        Worker threads (default: all CPUs this process may use). With more than one, the rows
        of every convolution are shared between the workers.
    pairwise : bool
        Use the pairwise (Karatsuba) form of the dilated convolutions (fewer multiplications,
        the same results within float32 rounding).
    method : {"direct", "im2col"}, optional
        "direct" (the default; "im2col" for networks :func:`direct_supported` rejects):
        register-tiled FMA kernels read the taps straight from the activated stream, with bias,
        activation, residual add and the next BatchNorm fused into their epilogues (no tap
        matrix, no BLAS). "im2col": numba tap matrices and one single-threaded BLAS product per
        block, one-level pairwise form (see the module docstring).
    levels : {2, 1}
        Levels of the pairwise form the direct method uses when ``pairwise``: 2 (the default),
        the two-level form for dilations >= :data:`QUAD_FROM_DILATION` (9W/4 instead of 4W
        taps per four rows); 1, the one-level form for dilations >= :data:`PAIRS_FROM_DILATION`
        (3W/2 instead of 2W per two rows).

    Scratch buffers are kept per worker and reused across layers and calls.
    """

    def __init__(self, threads: int | None = None, pairwise: bool = True, method: str | None = None,
                 levels: int = 2):
        if method is not None and method not in METHODS:
            raise FastbuildError(f"unknown forward method {method!r} (use {' or '.join(METHODS)})")
        if levels not in (1, 2):
            raise FastbuildError(f"pairwise levels must be 1 or 2, not {levels!r}")
        self.threads = int(threads or default_threads())
        self.pairwise = bool(pairwise)
        self.levels = int(levels)
        self.method = method
        self._ws = [_Workspace() for _ in range(self.threads)]
        self._big = _Workspace()  # the trunk's [N, C] streams, one forward pass at a time
        self._pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None

    def close(self) -> None:
        """Shut the worker threads down and free the buffers (idempotent)."""
        self._big = _Workspace()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def method_for(self, net) -> str:
        """The method :meth:`forward` uses for ``net`` ("im2col" where "direct" cannot run it)."""
        if self.method == "im2col" or not direct_supported(net.channels, net.channels):
            return "im2col"
        return "direct"

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

    def _parallel(self, tasks) -> None:
        """Run the callables, the first in this thread, the others on the workers."""
        futs = [self._pool.submit(f) for f in tasks[1:]] if self._pool is not None else []
        if self._pool is None:
            for f in tasks[1:]:
                f()
        tasks[0]()
        for f in futs:
            f.result()

    def _shares(self, n: int, quantum: int, minimum: int) -> list:
        """[start, stop) shares of range(n) for the workers, in multiples of ``quantum``."""
        k = self.threads if self._pool is not None and n >= minimum * self.threads else 1
        share = -(-n // k)
        per = -(-share // quantum) * quantum if k > 1 else n
        return [(a, min(n, a + per)) for a in range(0, n, max(1, per))]

    def _direct(self, src, dst, lo, hi, half, shape, conv, slope, res=None, scratch=None):
        """Output rows [lo, hi) of one convolution by the direct kernels, shared by the workers.

        Output row t reads source rows t - half + k*dilation, (width, dilation) = ``shape``;
        ``conv`` = (w, pairwise weights or None, bias, two-level weights or None). ``res`` None:
        dst = act(conv + bias); else (scale, shift, aout): dst += conv + bias and aout =
        act(dst * scale + shift). ``scratch``: three [N, C] arrays, room for the difference
        streams of the pairwise forms (the level-1 form uses the first)."""
        if hi <= lo:
            return
        w, bias = _c32(conv[0]), _c32(conv[2])  # the kernels index raw C-contiguous float32 data
        extra = () if res is None else (_c32(res[0]), _c32(res[1]), res[2])
        width, dil = shape
        nvec = dst.shape[1] // VECTOR_WIDTH
        rows = tile_rows(nvec)
        geom, geom1 = geometry(nvec, rows), geometry(nvec, 1)
        plain = _conv_act_direct if res is None else _conv_res_direct

        def plain_rows(a, b):
            return functools.partial(plain, src, a - half, b - a, w, width, dil, bias, slope, dst, a, geom, geom1,
                                     *extra)

        usable = scratch is not None and width > 1 and conv[1] is not None
        if usable and self.levels >= 2 and dil >= QUAD_FROM_DILATION and hi - lo >= rows * 4 * dil:
            self._parallel(self._quad_tasks(src, dst, lo, hi, half, shape, conv, slope, extra, plain_rows))
            return
        n_groups = (hi - lo) // (2 * dil)
        if not usable or width % 2 == 0 or dil < PAIRS_FROM_DILATION or n_groups == 0:
            self._parallel([plain_rows(lo + a, lo + b) for a, b in self._shares(hi - lo, rows, 64)])
            return
        d_lo, d_hi = lo - half, hi + half - dil
        self._parallel([functools.partial(_diff_rows, src, d_lo + a, d_lo + b, dil, scratch[0])
                        for a, b in self._shares(d_hi - d_lo, 1, 256)])
        pgeom = geometry(nvec, pair_tile_rows(dil, rows))
        kw = tuple(_c32(k) for k in conv[1])
        kw = (kw[1], kw[0], kw[2])  # (E+O, E, O)
        pairs = _pairs_act_direct if res is None else _pairs_res_direct
        taps, tail = (width + 1) // 2, lo + 2 * dil * n_groups
        tasks = [functools.partial(pairs, src, scratch[0], lo - half, g0, g1, kw, taps, dil, bias, slope, dst, lo,
                                   pgeom, geom1, *extra) for g0, g1 in self._shares(n_groups, 1, 2)]
        tasks.append(plain_rows(tail, hi))
        self._parallel(tasks)

    def _quad_tasks(self, src, dst, lo, hi, half, shape, conv, slope, extra, plain_rows) -> list:
        """Tasks computing output rows [lo, hi) by the two-level pairwise form (see :meth:`_direct`):
        whole blocks of rows*4D rows by strided tiles, in chunks of about :data:`QUAD_CHUNK_ROWS`
        output rows, shared by the workers; the last rows by the plain kernels. The split depends
        on [lo, hi) only, so results do not depend on the thread count."""
        width, dil = shape
        nvec = dst.shape[1] // VECTOR_WIDTH
        rows = tile_rows(nvec)
        geom = geometry(nvec, rows)
        kq, taps = _c32(conv[3][0]), np.ascontiguousarray(conv[3][1], dtype=np.int64)
        quad = _quad_act_direct if not extra else _quad_res_direct
        block, reach = rows * 4 * dil, (width - 1) * dil
        n_blocks = (hi - lo) // block
        per = max(1, QUAD_CHUNK_ROWS // block)
        args = (kq, taps, dil, _c32(conv[2]), slope, dst, lo, geom)
        tasks = []
        for i, (b0, b1) in enumerate(self._shares(n_blocks, 1, 2)):
            st = self._ws[i].get("quad", (4, min(per, b1 - b0) * block + reach, src.shape[1]))
            tasks.append(functools.partial(quad, src, lo - half, b0, b1, per, reach, *args, st, *extra))
        tasks.append(plain_rows(lo + n_blocks * block, hi))
        return tasks

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
        codes = np.asarray(codes)
        if codes.ndim != 1:
            raise FastbuildError("sequence codes must be one-dimensional")
        n = codes.shape[0] - 2 * net.flank
        if n <= 0:
            return np.zeros((0, 3), dtype=np.float32)
        idx = np.minimum(codes.astype(np.intp, copy=False), 4)
        if self.method_for(net) == "direct":
            skip = self._trunk_direct(net, idx, n)
        else:
            skip = self._trunk_im2col(net, idx, n)
        # not a BLAS product: OpenBLAS's threads would spin ~0.1 s after it, taking CPU time from
        # the kernels of the next call
        logits = np.empty((n, net.out_w.shape[1]), dtype=np.float64)
        _dense64(skip, _c32(net.out_w), _c32(net.out_b), logits)
        return _softmax(logits)

    def _trunk_direct(self, net, idx, n) -> np.ndarray:
        """The summed skip connections ``[n, C]`` of the scored rows (direct method)."""
        flank, c_n, units = net.flank, net.channels, net.units
        table = _table(net)
        slope = np.float32(net.negative_slope)
        # the streams live in buffers kept across calls: fresh pages would be faulted in (and
        # zeroed) by the first layers, serially, at every call
        big, shape = self._big, (idx.shape[0], c_n)
        x = np.take(table, idx, axis=0, out=big.get("x", shape))  # the residual stream [N, C]
        ones, zeros = np.ones(c_n, dtype=np.float32), np.zeros(c_n, dtype=np.float32)
        sc, sh = (units[0].bn1_scale, units[0].bn1_shift) if units else (ones, zeros)
        a_table = _act(table * sc + sh, slope).astype(np.float32)
        a = np.take(a_table, idx, axis=0, out=big.get("a", shape))  # BatchNorm-1 + act of unit 0
        h = big.get("h", shape)
        d = (big.get("d", shape),) if self.pairwise else None  # the difference stream of the level-1 form
        skip = big.get("skip", (n, c_n))
        tmp = d[0][:n] if d is not None else big.get("tmp", (n, c_n))  # d is free between convs
        one = np.float32(1.0)  # slope 1: no activation
        w0, b0 = net.skips[0]
        self._direct(x, skip, 0, n, -flank, (1, 1), (w0, None, b0, None), one)
        lo, hi = 0, idx.shape[0]
        for ui, u in enumerate(units):
            hf, shape = u.half, (u.width, u.dilation)
            nxt = units[ui + 1] if ui + 1 < len(units) else None
            res = (nxt.bn1_scale, nxt.bn1_shift, a) if nxt is not None else (ones, zeros, a)
            self._direct(a, h, lo + hf, hi - hf, hf, shape, (u.w1, u.k1, u.b1, u.q1), slope, scratch=d)
            self._direct(h, x, lo + 2 * hf, hi - 2 * hf, hf, shape, (u.w2, u.k2, u.b2, u.q2), slope, res, d)
            lo += 2 * hf
            hi -= 2 * hf
            if ui + 1 in net.skips:  # skip += x @ ws + bs (tmp: an unused activation)
                ws, bs = net.skips[ui + 1]
                self._direct(x, skip, 0, n, -flank, (1, 1), (ws, None, bs, None), one, (ones, zeros, tmp))
        return skip

    def _trunk_im2col(self, net, idx, n) -> np.ndarray:
        """The summed skip connections ``[n, C]`` of the scored rows (im2col method)."""
        flank, c_n = net.flank, net.channels
        n_in = idx.shape[0]
        im2col_kernels(c_n)  # made here, once, rather than by several workers at a time
        x = _table(net)[idx]  # [N, C]
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
        return skip


SOLO_BELOW = 200_000  # score_many: sequences with fewer outputs go one network per worker thread


class NumpyRunner(Runner):
    """The numpy + numba backend: a model bound to a :class:`ForwardPass`.

    Parameters
    ----------
    model : Model, Network or list of Network
        The ensemble; its members' outputs are averaged (in float64).
    threads : int, optional
        Worker threads (default: all CPUs this process may use).
    pairwise, levels
        See :class:`ForwardPass`.
    segment : int
        Long sequences are scored in segments of at most this many outputs (plus both flanks),
        so memory stays bounded (~0.65 KiB per base of segment).
    """

    backend = "numpy"

    def __init__(self, model, threads: int | None = None, pairwise: bool = True, segment: int = DEFAULT_SEGMENT,
                 levels: int = 2):
        self.networks = networks_of(model)
        if not self.networks:
            raise FastbuildError("no networks to run")
        self.flank = self.networks[0].flank
        self.segment = max(1, int(segment))
        self.engine = ForwardPass(threads, pairwise=pairwise, levels=levels)
        self.threads = self.engine.threads
        self._solo = []  # single-threaded engines of score_many, one per worker

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

    def score_many(self, sequences) -> list:
        """Scores of several sequences, each with both flanks: ``[score_sequence(s) for s in
        sequences]`` (bit for bit with the direct method), faster for short sequences.

        Sequences shorter than :data:`SOLO_BELOW` outputs (and :attr:`segment`) are scored
        whole, one (sequence, network) pair per worker thread at a time, largest first, so
        that the workers never wait for each other inside a layer (as long as that shares the
        work evenly, see :meth:`_solo_set`); the others as :meth:`score_sequence` scores them
        (rows of each layer shared by the workers).
        """
        checked = [check_codes(c, self.flank) for c in sequences]
        solo = self._solo_set([n for _, n in checked])
        out = [None] * len(checked)
        for i, (codes, _) in enumerate(checked):
            if i not in solo:
                out[i] = self.score_sequence(codes)
        solo = sorted(solo)
        if solo:
            parts = self._score_solo([checked[i][0] for i in solo])
            for i, per_net in zip(solo, parts, strict=True):
                out[i] = _member_mean(per_net)  # members in order, as score_sequence sums them
        return out

    def _solo_set(self, lengths) -> set:
        """Indices of the sequences :meth:`score_many` scores one member per worker: those
        shorter than :data:`SOLO_BELOW` (and :attr:`segment`), less the longest ones while the
        workers' shares (largest job first) would be more than 10% uneven."""
        limit = min(SOLO_BELOW, self.segment + 1)
        idx = sorted((i for i, n in enumerate(lengths) if 0 < n < limit), key=lambda i: -lengths[i])
        k = len(self.networks)
        while idx and self.threads > 1:
            loads = [0] * self.threads
            for i in idx:
                cost = lengths[i] + self.flank  # ~ work of one member (the flanks' share included)
                for _ in range(k):
                    loads[loads.index(min(loads))] += cost
            if max(loads) <= 1.1 * sum(loads) / self.threads:
                break
            idx = idx[1:]
        return set(idx)

    def solo_engines(self) -> list:
        """One single-threaded :class:`ForwardPass` per thread, set like :attr:`engine` (kept)."""
        while len(self._solo) < self.threads:
            self._solo.append(ForwardPass(1))
        for e in self._solo:
            e.pairwise, e.method, e.levels = self.engine.pairwise, self.engine.method, self.engine.levels
        return self._solo

    def score_edits(self, references, edits) -> tuple[list, list]:
        """See :meth:`fastbuild.basemodel.runner.Runner.score_edits`: each edit is recomputed only
        over its cone (:mod:`fastbuild.basemodel.cone`), within float32 rounding of scoring its
        window whole."""
        from fastbuild.basemodel.cone import score_edits

        return score_edits(self, references, edits)

    def pull_jobs(self, jobs: list, fn) -> None:
        """``fn(engine, job)`` for every job, on the single-threaded engines (:meth:`solo_engines`),
        each engine pulling the next job when done with its last."""
        engines = self.solo_engines()
        lock, it = threading.Lock(), iter(jobs)

        def work(engine):
            while True:
                with lock:
                    job = next(it, None)
                if job is None:
                    return
                fn(engine, job)

        self.engine._parallel([functools.partial(work, e) for e in engines[: max(1, min(self.threads, len(jobs)))]])

    def _score_solo(self, seqs) -> list:
        """Per sequence, the list of its members' outputs, computed by single-threaded engines
        pulling (sequence, member) jobs, largest sequence first."""
        jobs = sorted(((i, k) for i in range(len(seqs)) for k in range(len(self.networks))),
                      key=lambda j: -len(seqs[j[0]]))
        results = [[None] * len(self.networks) for _ in seqs]

        def one(engine, job):
            i, k = job
            results[i][k] = engine.forward(self.networks[k], seqs[i])

        self.pull_jobs(jobs, one)
        return results
