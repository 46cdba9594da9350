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
from numba.core import cgutils

from fastbuild.basemodel.runner import Runner, check_codes, default_threads, networks_of
from fastbuild.errors import FastbuildError
from fastbuild_kernels._numba_config import JIT_DISABLED, kernel

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
# direct convolution kernels: register-blocked FMA tiles written in LLVM IR (numba intrinsics)
# ------------------------------------------------------------------------------------------


def _host_features() -> dict:
    """CPU features numba compiles for (empty when told to compile for another CPU)."""
    from numba.core import config

    if config.CPU_NAME or config.CPU_FEATURES:
        return {}
    try:
        import llvmlite.binding as llvm

        return dict(llvm.get_host_cpu_features())
    except Exception:  # pragma: no cover - llvmlite without host feature detection
        return {}


_FEATURES = _host_features()
#: float32 lanes of the vectors the direct kernels use: 16 with AVX-512, else 8.
VECTOR_WIDTH = 16 if _FEATURES.get("avx512f") else 8
_HOST_FMA = bool(_FEATURES.get("fma") or _FEATURES.get("avx512f"))
MAX_VECTORS = 4  # output vectors per row the direct kernels handle (64 channels with AVX-512)
PAIRS_FROM_DILATION = 10  # direct method, level 1: pairwise form for dilations >= this (tiles fit a half period)
QUAD_FROM_DILATION = 4  # direct method, level 2 (the default): two-level form for dilations >= this (plain at 1: ties)
QUAD_CHUNK_ROWS = 2048  # two-level form: output rows per chunk of difference streams (kept in L2)


def direct_supported(c_in: int, c_out: int, lanes: int | None = None) -> bool:
    """True when the direct kernels run these channel counts: input channels a multiple of 4,
    output channels a multiple of the vector width (at most :data:`MAX_VECTORS` vectors); JIT on."""
    lanes = lanes or VECTOR_WIDTH
    nvec = c_out // lanes
    return not JIT_DISABLED and c_in > 0 and c_in % 4 == 0 and c_out % lanes == 0 and 0 < nvec <= MAX_VECTORS


def tile_rows(nvec: int, lanes: int | None = None) -> int:
    """Output rows per register tile: the accumulators fill half the vector registers."""
    return max(1, (16 if (lanes or VECTOR_WIDTH) == 16 else 8) // nvec)


def pair_tile_rows(dilation: int, rows: int) -> int:
    """Rows per tile of the pairwise form (tiles lie within the first half of a 2D period):
    the size in [rows/2, rows] that covers ``dilation`` rows fastest (single rows cost ~2.5)."""
    cands = range(max(1, rows // 2), rows + 1)
    return min(cands, key=lambda r: ((dilation // r) * (r + 1.5) + (dilation % r) * 2.5, -r))


def geometry(nvec: int, rows: int, lanes: int | None = None) -> tuple:
    """The kernels' compile-time shape, as tuple lengths: (output vectors per row, float32
    lanes per vector, rows per tile). Each geometry is one compiled specialisation."""
    return ((0,) * nvec, (0,) * (lanes or VECTOR_WIDTH), (0,) * rows)


class _IR:
    """Small LLVM IR helpers for the tile kernels."""

    def __init__(self, context, builder, lanes):
        from llvmlite import ir

        self.ir, self.b, self.context = ir, builder, context
        self.i64 = ir.IntType(64)
        self.vt = ir.VectorType(ir.FloatType(), lanes)
        self.vw = lanes
        fnty = ir.FunctionType(self.vt, [self.vt] * 3)
        fma = "fma" if _HOST_FMA else "fmuladd"  # always fused where the CPU can: tiling-independent sums
        self._fma = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.{fma}.v{lanes}f32")

    def k(self, v):
        return self.ir.Constant(self.i64, v)

    def i(self, v):
        """An integer argument as i64."""
        return self.b.sext(v, self.i64) if v.type.width < 64 else v

    def array(self, ty, val):
        """(data pointer, columns) of a 2-D array argument (data pointer only for 1-D)."""
        arr = self.context.make_array(ty)(self.context, self.b, val)
        if ty.ndim == 1:
            return arr.data
        return arr.data, cgutils.unpack_tuple(self.b, arr.shape)[1]

    def add(self, *terms):
        out = terms[0]
        for t in terms[1:]:
            out = self.b.add(out, t)
        return out

    def vptr(self, base, idx):
        return self.b.bitcast(self.b.gep(base, [idx]), self.vt.as_pointer())

    def vload(self, base, idx):
        return self.b.load(self.vptr(base, idx), align=4)

    def vstore(self, v, base, idx):
        self.b.store(v, self.vptr(base, idx), align=4)

    def splat(self, x):
        ir = self.ir
        v = self.b.insert_element(ir.Constant(self.vt, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), self.vw), [0] * self.vw)
        return self.b.shuffle_vector(v, ir.Constant(self.vt, ir.Undefined), mask)

    def fma(self, a, b, c):
        return self.b.call(self._fma, [a, b, c])

    def act(self, v, slope_v):
        """max(v, slope*v): ReLU (slope 0) or LeakyReLU."""
        sv = self.b.fmul(v, slope_v)
        return self.b.select(self.b.fcmp_ordered(">", v, sv), v, sv)


def _emit_accumulate(t, src, s_off, wp, taps, stride, rows, nvec, init=None, negate=False, rstep=None):
    """IR: acc[i][j] = init[i][j] (+ or - when ``negate``) sum over taps k < ``taps`` and input
    channels c of src[s_off + i*rstep + k*stride, c] * w[k*C + c, j*vw : (j+1)*vw].

    ``src`` is (data pointer, C) with C a runtime multiple of 4; ``rows`` and ``nvec`` are
    constants, ``rstep`` (the rows' spacing) a runtime value or None for 1. The accumulators are
    allocas, promoted to registers; returns their values."""
    sp, c_in = src
    c_out = nvec * t.vw
    rstride = c_in if rstep is None else t.b.mul(rstep, c_in)
    zero = t.ir.Constant(t.vt, [0.0] * t.vw)
    accs = [[cgutils.alloca_once(t.b, t.vt) for _ in range(nvec)] for _ in range(rows)]
    for i, row in enumerate(accs):
        for j, a in enumerate(row):
            t.b.store(zero if init is None else init[i][j], a)
    with cgutils.for_range(t.b, taps) as kl:
        srow = t.b.mul(t.add(s_off, t.b.mul(kl.index, stride)), c_in)
        wrow = t.b.mul(t.b.mul(kl.index, c_in), t.k(c_out))
        with cgutils.for_range(t.b, t.b.sdiv(c_in, t.k(4))) as cl:
            c0 = t.b.mul(cl.index, t.k(4))
            s0, w0 = t.add(srow, c0), t.add(wrow, t.b.mul(c0, t.k(c_out)))
            acc = [[t.b.load(a) for a in row] for row in accs]
            for c in range(4):
                ws = [t.vload(wp, t.add(w0, t.k(c * c_out + j * t.vw))) for j in range(nvec)]
                for i in range(rows):
                    x = t.b.load(t.b.gep(sp, [t.add(s0, t.b.mul(t.k(i), rstride), t.k(c))]), align=4)
                    x = t.splat(t.b.fneg(x) if negate else x)
                    acc[i] = [t.fma(x, ws[j], acc[i][j]) for j in range(nvec)]
            for row, vals in zip(accs, acc, strict=True):
                for a, v in zip(row, vals, strict=True):
                    t.b.store(v, a)
    return [[t.b.load(a) for a in row] for row in accs]


def _emit_epilogue(t, vals, o_off, out, bias, slope, res, rstep=None):
    """IR: rows o_off + i*rstep get act(vals_i + bias) (``res`` None), or (``res`` = scale, shift,
    aout pointers) out += vals_i + bias and aout = act(out * scale + shift)."""
    op, c_out = out[0], len(vals[0]) * t.vw
    for i, row in enumerate(vals):
        orow = t.add(o_off, t.k(i) if rstep is None else t.b.mul(t.k(i), rstep))
        for j, acc in enumerate(row):
            col = t.k(j * t.vw)
            idx = t.add(t.b.mul(orow, t.k(c_out)), col)
            v = t.b.fadd(acc, t.vload(bias, col))
            if res is None:
                t.vstore(t.act(v, slope), op, idx)
                continue
            xv = t.b.fadd(t.vload(op, idx), v)
            t.vstore(xv, op, idx)
            av = t.fma(xv, t.vload(res[0], col), t.vload(res[1], col))
            t.vstore(t.act(av, slope), res[2][0], idx)


def _geometry_of(ty) -> tuple:
    return tuple(x.count for x in ty)


def _plain_codegen(residual):
    """Tile of the plain form; arguments (src, s_off, w, width, dil, bias, slope, out, o_off,
    geom[, scale, shift, aout]): rows o_off + i get sum_k src[s_off + i + k*dil] @ w_k, then
    the epilogue (:func:`_emit_epilogue`)."""

    def codegen(context, builder, sig, args):
        ty = sig.args
        nvec, lanes, rows = _geometry_of(ty[9])
        t = _IR(context, builder, lanes)
        src, out, bias = t.array(ty[0], args[0]), t.array(ty[7], args[7]), t.array(ty[5], args[5])
        wp = t.array(ty[2], args[2])[0]
        s_off, width, dil, o_off = (t.i(args[i]) for i in (1, 3, 4, 8))
        res = [t.array(ty[i], args[i]) for i in (10, 11, 12)] if residual else None
        vals = _emit_accumulate(t, src, s_off, wp, width, dil, rows, nvec)
        _emit_epilogue(t, vals, o_off, out, bias, t.splat(args[6]), res)
        return context.get_dummy_value()

    return codegen


def _pairs_codegen(residual):
    """Tile of the pairwise form; arguments (a, d, s_off, k_eo, k_e, k_o, taps, dil, bias,
    slope, out, o_off, geom[, scale, shift, aout]) with d[s] = a[s] - a[s + D], J = taps:
    m2 = sum_j a[s + (2j+1)D] @ (E+O)_j; rows o_off + i get m2 + sum_j d[s + 2jD] @ E_j and
    rows o_off + D + i get m2 - sum_{j<J-1} d[s + (2j+1)D] @ O_j (s = s_off + i)."""

    def codegen(context, builder, sig, args):
        ty = sig.args
        nvec, lanes, rows = _geometry_of(ty[12])
        t = _IR(context, builder, lanes)
        a, d, out = t.array(ty[0], args[0]), t.array(ty[1], args[1]), t.array(ty[10], args[10])
        k_eo, k_e, k_o = (t.array(ty[i], args[i])[0] for i in (3, 4, 5))
        bias = t.array(ty[8], args[8])
        s_off, taps, dil, o_off = (t.i(args[i]) for i in (2, 6, 7, 11))
        res = [t.array(ty[i], args[i]) for i in (14, 15, 16)] if residual else None
        slope, two_d = t.splat(args[9]), t.b.mul(dil, t.k(2))
        m2 = _emit_accumulate(t, a, t.add(s_off, dil), k_eo, taps, two_d, rows, nvec)
        # m2 goes through memory (``buf``, rows x C_out), so that one set of accumulators at
        # a time lives in registers
        buf = t.array(ty[13], args[13])[0]
        slots = [[t.k((i * nvec + j) * t.vw) for j in range(nvec)] for i in range(rows)]
        for row, sl in zip(m2, slots, strict=True):
            for v, o in zip(row, sl, strict=True):
                t.vstore(v, buf, o)
        m2 = [[t.vload(buf, o) for o in r] for r in slots]
        even = _emit_accumulate(t, d, s_off, k_e, taps, two_d, rows, nvec, m2)
        _emit_epilogue(t, even, o_off, out, bias, slope, res)
        m2 = [[t.vload(buf, o) for o in r] for r in slots]
        odd = _emit_accumulate(t, d, t.add(s_off, dil), k_o, t.b.sub(taps, t.k(1)), two_d, rows, nvec, m2, True)
        _emit_epilogue(t, odd, t.add(o_off, dil), out, bias, slope, res)
        return context.get_dummy_value()

    return codegen


#: The nine sub-convolutions of the two-level pairwise form, in the order of their weights
#: (:func:`fastbuild.basemodel.models.quad_weights`): (stream, offset in D) each. Streams:
#: 0 = a, 1 = d (a - a[+D]), 2 = a2 (a - a[+2D]), 3 = dd (d - d[+2D]).
QUAD_TERMS = ((0, 3), (2, 1), (2, 3), (1, 2), (3, 0), (3, 2), (1, 3), (3, 1), (3, 3))


def _quad_codegen(residual):
    """Tile of the two-level pairwise form; arguments (a, d, a2, dd, s_off, kq, taps, dil, bias,
    slope, out, o_off, geom, buf, rstep[, scale, shift, aout]).

    The level-1 form writes rows t and t + D of a width-W convolution of dilation D through
    three convolutions of dilation 2D: P (weights E+O on a, offset D), Q (E on d) and R (O on d,
    offset D), y[t] = P + Q and y[t+D] = P - R. The same step applied to each of them pairs
    their rows t and t + 2D and leaves nine convolutions of dilation 4D and ~W/4 taps
    (:data:`QUAD_TERMS`, weights ``kq[q]``, ``taps[q]`` taps each): 9W/4 instead of 4W taps per
    four rows. With s = s_off + i*rstep, rows o_off + i*rstep + m*D (m < 4) get the epilogue of
    y[t + m*D]. ``buf`` [3*rows, C_out] holds the partial sums between the steps."""

    def codegen(context, builder, sig, args):
        ty = sig.args
        nvec, lanes, rows = _geometry_of(ty[12])
        t = _IR(context, builder, lanes)
        streams = [t.array(ty[i], args[i]) for i in range(4)]
        karr = context.make_array(ty[5])(context, builder, args[5])
        kshape = cgutils.unpack_tuple(builder, karr.shape)
        kset = builder.mul(kshape[1], kshape[2])
        taps = t.array(ty[6], args[6])
        bias, out = t.array(ty[8], args[8]), t.array(ty[10], args[10])
        buf = t.array(ty[13], args[13])[0]
        s_off, dil, o_off, rstep = (t.i(args[i]) for i in (4, 7, 11, 14))
        res = [t.array(ty[i], args[i]) for i in (15, 16, 17)] if residual else None
        slope, four_d = t.splat(args[9]), t.b.mul(dil, t.k(4))

        def acc(q, init=None, negate=False):
            stream, off = QUAD_TERMS[q]
            wp = builder.gep(karr.data, [builder.mul(t.k(q), kset)])
            n = builder.load(builder.gep(taps, [t.k(q)]))
            start = t.add(s_off, builder.mul(dil, t.k(off)))
            return _emit_accumulate(t, streams[stream], start, wp, n, four_d, rows, nvec, init, negate, rstep)

        slots = [[[t.k(((b * rows + i) * nvec + j) * t.vw) for j in range(nvec)] for i in range(rows)]
                 for b in range(3)]

        def save(vals, b):
            for row, sl in zip(vals, slots[b], strict=True):
                for v, o in zip(row, sl, strict=True):
                    t.vstore(v, buf, o)

        def load(b, minus=None, plus=None):
            """buf[b] (+ buf[plus]) (- buf[minus])."""
            vals = [[t.vload(buf, o) for o in r] for r in slots[b]]
            other = plus if plus is not None else minus
            if other is None:
                return vals
            op = builder.fadd if plus is not None else builder.fsub
            return [[op(v, t.vload(buf, o)) for v, o in zip(r, sr, strict=True)]
                    for r, sr in zip(vals, slots[other], strict=True)]

        def epilogue(vals, m):
            _emit_epilogue(t, vals, t.add(o_off, builder.mul(dil, t.k(m))), out, bias, slope, res, rstep)

        _quad_steps(acc, save, load, epilogue)
        return context.get_dummy_value()

    return codegen


def _quad_steps(acc, save, load, epilogue):
    """The nine sub-convolutions of :func:`_quad_codegen` and how they combine (buf slots 0-2)."""
    save(acc(0), 0)  # PP
    save(acc(1, load(0)), 1)  # P[t] = PP + PQ
    save(acc(2, load(0), True), 2)  # P[t+2D] = PP - PR
    save(acc(3), 0)  # QP
    epilogue(acc(4, load(1, plus=0)), 0)  # y[t] = P[t] + QP + QQ
    epilogue(acc(5, load(2, plus=0), True), 2)  # y[t+2D] = P[t+2D] + QP - QR
    save(acc(6), 0)  # RP
    epilogue(acc(7, load(1, minus=0), True), 1)  # y[t+D] = P[t] - RP - RQ
    epilogue(acc(8, load(2, minus=0)), 3)  # y[t+3D] = P[t+2D] - RP + RR


def _tile_intrinsics():
    """The four tile intrinsics: plain / pairwise form, plain / residual epilogue."""
    from numba import types
    from numba.extending import intrinsic

    plain_act, plain_res = _plain_codegen(False), _plain_codegen(True)
    pairs_act, pairs_res = _pairs_codegen(False), _pairs_codegen(True)

    @intrinsic
    def tile_act(typingctx, src, s_off, w, width, dil, bias, slope, out, o_off, geom):
        return types.void(src, s_off, w, width, dil, bias, slope, out, o_off, geom), plain_act

    @intrinsic
    def tile_res(typingctx, src, s_off, w, width, dil, bias, slope, out, o_off, geom, scale, shift, aout):
        return types.void(src, s_off, w, width, dil, bias, slope, out, o_off, geom, scale, shift, aout), plain_res

    @intrinsic
    def pair_act(typingctx, a, d, s_off, k_eo, k_e, k_o, taps, dil, bias, slope, out, o_off, geom, buf):
        return types.void(a, d, s_off, k_eo, k_e, k_o, taps, dil, bias, slope, out, o_off, geom, buf), pairs_act

    @intrinsic
    def pair_res(typingctx, a, d, s_off, k_eo, k_e, k_o, taps, dil, bias, slope, out, o_off, geom, buf, scale,
                 shift, aout):
        sig = types.void(a, d, s_off, k_eo, k_e, k_o, taps, dil, bias, slope, out, o_off, geom, buf, scale, shift,
                         aout)
        return sig, pairs_res

    quad_act, quad_res = _quad_codegen(False), _quad_codegen(True)

    @intrinsic
    def quad_a(typingctx, a, d, a2, dd, s_off, kq, taps, dil, bias, slope, out, o_off, geom, buf, rstep):
        return types.void(a, d, a2, dd, s_off, kq, taps, dil, bias, slope, out, o_off, geom, buf, rstep), quad_act

    @intrinsic
    def quad_r(typingctx, a, d, a2, dd, s_off, kq, taps, dil, bias, slope, out, o_off, geom, buf, rstep, scale,
               shift, aout):
        sig = types.void(a, d, a2, dd, s_off, kq, taps, dil, bias, slope, out, o_off, geom, buf, rstep, scale,
                         shift, aout)
        return sig, quad_res

    return tile_act, tile_res, pair_act, pair_res, quad_a, quad_r


_TILE_ACT, _TILE_RES, _PAIR_ACT, _PAIR_RES, _QUAD_ACT, _QUAD_RES = _tile_intrinsics()


@kernel
def _conv_act_direct(src, s0, n, w, width, dil, bias, slope, out, o0, geom, geom1):
    """out[o0 + i] = act(bias + sum_k src[s0 + i + k*dil] @ w[k*C : (k+1)*C]) for i < n.

    ``geom``: see :func:`geometry` (``geom1``: the same with one row per tile, for the last
    rows). Arrays float32, C-contiguous."""
    rows = len(geom[2])
    i = 0
    while i + rows <= n:
        _TILE_ACT(src, s0 + i, w, width, dil, bias, slope, out, o0 + i, geom)
        i += rows
    while i < n:
        _TILE_ACT(src, s0 + i, w, width, dil, bias, slope, out, o0 + i, geom1)
        i += 1


@kernel
def _conv_res_direct(src, s0, n, w, width, dil, bias, slope, out, o0, geom, geom1, scale, shift, aout):
    """out[o0 + i] += bias + sum_k src[s0 + i + k*dil] @ w_k, then aout[o0 + i] =
    act(out[o0 + i] * scale + shift): the residual add and the next unit's BatchNorm and
    activation (see :func:`_conv_act_direct`)."""
    rows = len(geom[2])
    i = 0
    while i + rows <= n:
        _TILE_RES(src, s0 + i, w, width, dil, bias, slope, out, o0 + i, geom, scale, shift, aout)
        i += rows
    while i < n:
        _TILE_RES(src, s0 + i, w, width, dil, bias, slope, out, o0 + i, geom1, scale, shift, aout)
        i += 1


@kernel
def _diff_rows(a, lo, hi, dil, d):
    """d[s] = a[s] - a[s + dil] for lo <= s < hi."""
    c_n = a.shape[1]
    for s in range(lo, hi):
        for c in range(c_n):
            d[s, c] = a[s, c] - a[s + dil, c]


@kernel
def _pairs_act_direct(a, d, s0, g0, g1, kw, taps, dil, bias, slope, out, o0, geom, geom1):
    """Pairwise form (:func:`_pairs_codegen`) of :func:`_conv_act_direct` for the output rows of
    the 2D-row groups g0 <= g < g1 (rows o0 + 2gD ...); kw = (E+O, E, O) weights."""
    rows = len(geom[2])
    buf = np.empty((rows, out.shape[1]), dtype=np.float32)
    for g in range(g0, g1):
        b = g * 2 * dil
        r = 0
        while r + rows <= dil:
            _PAIR_ACT(a, d, s0 + b + r, kw[0], kw[1], kw[2], taps, dil, bias, slope, out, o0 + b + r, geom, buf)
            r += rows
        while r < dil:
            _PAIR_ACT(a, d, s0 + b + r, kw[0], kw[1], kw[2], taps, dil, bias, slope, out, o0 + b + r, geom1, buf)
            r += 1


@kernel
def _pairs_res_direct(a, d, s0, g0, g1, kw, taps, dil, bias, slope, out, o0, geom, geom1, scale, shift, aout):
    """Pairwise form of :func:`_conv_res_direct` (see :func:`_pairs_act_direct`)."""
    rows = len(geom[2])
    buf = np.empty((rows, out.shape[1]), dtype=np.float32)
    for g in range(g0, g1):
        b = g * 2 * dil
        r = 0
        while r + rows <= dil:
            _PAIR_RES(a, d, s0 + b + r, kw[0], kw[1], kw[2], taps, dil, bias, slope, out, o0 + b + r, geom, buf, scale,
                      shift, aout)
            r += rows
        while r < dil:
            _PAIR_RES(a, d, s0 + b + r, kw[0], kw[1], kw[2], taps, dil, bias, slope, out, o0 + b + r, geom1, buf,
                      scale, shift, aout)
            r += 1


@kernel
def _quad_streams(a, lo, hi, end, dil, d, a2, dd):
    """The difference streams of the two-level pairwise form for lo <= s < hi: d[s] = a[s] -
    a[s + D], a2[s] = a[s] - a[s + 2D] and dd[s] = d[s] - d[s + 2D], each where the rows of
    ``a`` it reads are below ``end`` (s + D, s + 2D, s + 3D < end)."""
    c_n, n_a = a.shape[1], min(end, a.shape[0])
    for s in range(lo, hi):
        if s + dil < n_a:
            for c in range(c_n):
                d[s, c] = a[s, c] - a[s + dil, c]
        if s + 2 * dil < n_a:
            for c in range(c_n):
                a2[s, c] = a[s, c] - a[s + 2 * dil, c]
        if s + 3 * dil < n_a:
            for c in range(c_n):
                dd[s, c] = (a[s, c] - a[s + dil, c]) - (a[s + 2 * dil, c] - a[s + 3 * dil, c])


@kernel
def _quad_chunk(src, base, span, dil, st):
    """st[0, :span] = src[base : base + span] and the difference streams of that copy into
    st[1..3] (:func:`_quad_streams`), each where its rows lie in the copy."""
    a = st[0]
    c_n = src.shape[1]
    for s in range(span):
        for c in range(c_n):
            a[s, c] = src[base + s, c]
    _quad_streams(a, 0, span, span, dil, st[1], st[2], st[3])


@kernel
def _quad_act_direct(src, s0, b0, b1, per, reach, kq, taps, dil, bias, slope, out, o0, geom, st):
    """Two-level pairwise form (:func:`_quad_codegen`) of :func:`_conv_act_direct` for the
    blocks b0 <= b < b1 of rows*4D output rows (rows o0 + b*rows*4D ...; rows: the tile's).

    Each block is ``dil`` strided tiles (rows 4D apart, one per r < D). Blocks go ``per`` at a
    time through ``st`` [4, per*rows*4D + reach, C]: the chunk's source rows (``reach`` = (W-1)*D
    more than its outputs) and their difference streams, computed there so that they stay in
    cache. Stream values do not depend on the chunking."""
    rows = len(geom[2])
    block = rows * 4 * dil
    buf = np.empty((3 * rows, out.shape[1]), dtype=np.float32)
    for c0 in range(b0, b1, per):
        c1 = min(b1, c0 + per)
        _quad_chunk(src, s0 + c0 * block, (c1 - c0) * block + reach, dil, st)
        for b in range(c1 - c0):
            for r in range(dil):
                _QUAD_ACT(st[0], st[1], st[2], st[3], b * block + r, kq, taps, dil, bias, slope, out,
                          o0 + (c0 + b) * block + r, geom, buf, 4 * dil)


@kernel
def _quad_res_direct(src, s0, b0, b1, per, reach, kq, taps, dil, bias, slope, out, o0, geom, st, scale, shift, aout):
    """Two-level pairwise form of :func:`_conv_res_direct` (see :func:`_quad_act_direct`)."""
    rows = len(geom[2])
    block = rows * 4 * dil
    buf = np.empty((3 * rows, out.shape[1]), dtype=np.float32)
    for c0 in range(b0, b1, per):
        c1 = min(b1, c0 + per)
        _quad_chunk(src, s0 + c0 * block, (c1 - c0) * block + reach, dil, st)
        for b in range(c1 - c0):
            for r in range(dil):
                _QUAD_RES(st[0], st[1], st[2], st[3], b * block + r, kq, taps, dil, bias, slope, out,
                          o0 + (c0 + b) * block + r, geom, buf, 4 * dil, scale, shift, aout)


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


@kernel
def _dense64(x, w, b, out):
    """out[i, k] = b[k] + sum_c x[i, c] * w[c, k], summed in float64 in channel order."""
    for i in range(x.shape[0]):
        for k in range(w.shape[1]):
            acc = np.float64(b[k])
            for c in range(x.shape[1]):
                acc += np.float64(x[i, c]) * np.float64(w[c, k])
            out[i, k] = acc


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed in float64, returned as float32."""
    logits = logits.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits.astype(np.float32)


METHODS = ("direct", "im2col")


def _table(net) -> np.ndarray:
    """[5, C] float32: the input convolution's output for codes A, C, G, T and N."""
    table = np.empty((5, net.channels), dtype=np.float32)
    table[:4] = net.in_w + net.in_b
    table[4] = net.in_b
    return table


def _c32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _act(v: np.ndarray, slope) -> np.ndarray:
    return np.maximum(v, v * slope)


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
                acc = np.zeros(per_net[0].shape, dtype=np.float64)
                for p in per_net:  # members in order, as score_sequence sums them
                    acc += p
                out[i] = (acc / len(self.networks)).astype(np.float32)
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

    def _score_solo(self, seqs) -> list:
        """Per sequence, the list of its members' outputs, computed by single-threaded engines
        pulling (sequence, member) jobs, largest sequence first."""
        while len(self._solo) < self.threads:
            self._solo.append(ForwardPass(1))
        for e in self._solo:
            e.pairwise, e.method, e.levels = self.engine.pairwise, self.engine.method, self.engine.levels
        jobs = sorted(((i, k) for i in range(len(seqs)) for k in range(len(self.networks))),
                      key=lambda j: -len(seqs[j[0]]))
        results = [[None] * len(self.networks) for _ in seqs]
        lock, it = threading.Lock(), iter(jobs)

        def work(engine):
            while True:
                with lock:
                    job = next(it, None)
                if job is None:
                    return
                i, k = job
                results[i][k] = engine.forward(self.networks[k], seqs[i])

        self.engine._parallel([functools.partial(work, e) for e in self._solo[: max(1, min(self.threads, len(jobs)))]])
        return results
