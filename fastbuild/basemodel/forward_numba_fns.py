"""The numba kernels of the numpy backend's forward pass, and the LLVM IR that writes their tiles.

:mod:`fastbuild.basemodel.forward` (``ForwardPass``, ``NumpyRunner``) decides which kernel runs
which rows; this module holds the kernels themselves (after sgkit's ``*_numba_fns.py`` modules),
all compiled with :func:`fastbuild_kernels.kernel` (``nogil``, on-disk cache, no fast-math).
Layout is channels-last ``[L, C]`` float32, C-contiguous; every convolution is "valid" (output row
t reads source rows t - half + k*dilation).

* Host features and tile geometry: :data:`VECTOR_WIDTH` (16 float32 lanes with AVX-512, else 8),
  :func:`direct_supported`, :func:`tile_rows`, :func:`pair_tile_rows`, :func:`geometry` (the
  compile-time shape of a tile, passed to the kernels as tuple lengths).
* The "im2col" method: :func:`im2col_kernels` build a block's ``[B, W*C]`` tap matrix (plain or
  pairwise form) for one BLAS product; :func:`_combine_pairs` and :func:`_add_bias` write the
  products back.
* The "direct" method: register tiles of FMAs written in LLVM IR through numba intrinsics
  (:class:`_IR`, :func:`_emit_accumulate`, :func:`_emit_epilogue`; :func:`_plain_codegen`,
  :func:`_pairs_codegen` and :func:`_quad_codegen` for the plain, pairwise (Karatsuba) and
  two-level pairwise forms, :data:`QUAD_TERMS`; :func:`_tile_intrinsics`), and the kernels that
  loop them over rows: :func:`_conv_act_direct` / :func:`_conv_res_direct` (plain),
  :func:`_pairs_act_direct` / :func:`_pairs_res_direct` with :func:`_diff_rows` (one level),
  :func:`_quad_act_direct` / :func:`_quad_res_direct` with :func:`_quad_streams` /
  :func:`_quad_chunk` (two levels). ``*_act_*`` kernels add the bias and apply the activation;
  ``*_res_*`` kernels add the residual and compute the next unit's BatchNorm-1 + activation.
* The output head: :func:`_dense64` (float64 sums in channel order).

The direct kernels need the JIT (they are LLVM IR): under ``NUMBA_DISABLE_JIT=1``
:func:`direct_supported` is False and the forward pass takes the im2col method.
"""

from __future__ import annotations

import functools

import numpy as np
from numba.core import cgutils

from fastbuild_kernels import JIT_DISABLED, kernel

# ------------------------------------------------------------------------------------------
# host features and the geometry of the direct kernels' tiles
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


def direct_supported(c_in: int, c_out: int, lanes: int | None = None) -> bool:
    """Whether the direct kernels run a convolution of these channel counts.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    lanes : int, optional
        float32 lanes per vector (default :data:`VECTOR_WIDTH`).

    Returns
    -------
    bool
        True when the input channels are a multiple of 4, the output channels a multiple of the
        vector width (at most :data:`MAX_VECTORS` vectors) and the JIT is on.
    """
    lanes = lanes or VECTOR_WIDTH
    nvec = c_out // lanes
    return not JIT_DISABLED and c_in > 0 and c_in % 4 == 0 and c_out % lanes == 0 and 0 < nvec <= MAX_VECTORS


def tile_rows(nvec: int, lanes: int | None = None) -> int:
    """Output rows per register tile: the accumulators fill half the vector registers.

    Parameters
    ----------
    nvec : int
        Output vectors per row (output channels / lanes).
    lanes : int, optional
        float32 lanes per vector (default :data:`VECTOR_WIDTH`).

    Returns
    -------
    int
        Rows per tile: 16 (AVX-512) or 8 accumulators divided among ``nvec`` vectors, at least 1.
    """
    return max(1, (16 if (lanes or VECTOR_WIDTH) == 16 else 8) // nvec)


def pair_tile_rows(dilation: int, rows: int) -> int:
    """Rows per tile of the pairwise form (tiles lie within the first half of a 2D period).

    Parameters
    ----------
    dilation : int
        The convolution's dilation D: each 2D-row period has D rows to cover.
    rows : int
        Rows per tile of the plain form (:func:`tile_rows`).

    Returns
    -------
    int
        The size in [rows/2, rows] that covers ``dilation`` rows fastest (single rows cost ~2.5).
    """
    cands = range(max(1, rows // 2), rows + 1)
    return min(cands, key=lambda r: ((dilation // r) * (r + 1.5) + (dilation % r) * 2.5, -r))


def geometry(nvec: int, rows: int, lanes: int | None = None) -> tuple:
    """The direct kernels' compile-time shape, as tuple lengths.

    Parameters
    ----------
    nvec : int
        Output vectors per row.
    rows : int
        Rows per tile.
    lanes : int, optional
        float32 lanes per vector (default :data:`VECTOR_WIDTH`).

    Returns
    -------
    tuple
        Three tuples of zeros whose lengths are (``nvec``, ``lanes``, ``rows``): numba types them
        as ``UniTuple`` of that count, which the tile intrinsics read at compile time. Each
        geometry is one compiled specialisation.
    """
    return ((0,) * nvec, (0,) * (lanes or VECTOR_WIDTH), (0,) * rows)


# ------------------------------------------------------------------------------------------
# im2col method: tap matrices for BLAS, and the products written back
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
        """An i64 constant."""
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
        """The integer sum of the terms."""
        out = terms[0]
        for t in terms[1:]:
            out = self.b.add(out, t)
        return out

    def vptr(self, base, idx):
        """Pointer to the vector at element ``idx`` of a float pointer."""
        return self.b.bitcast(self.b.gep(base, [idx]), self.vt.as_pointer())

    def vload(self, base, idx):
        """Load the (4-byte aligned) vector at element ``idx``."""
        return self.b.load(self.vptr(base, idx), align=4)

    def vstore(self, v, base, idx):
        """Store a vector at element ``idx`` (4-byte aligned)."""
        self.b.store(v, self.vptr(base, idx), align=4)

    def splat(self, x):
        """A vector with every lane ``x``."""
        ir = self.ir
        v = self.b.insert_element(ir.Constant(self.vt, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), self.vw), [0] * self.vw)
        return self.b.shuffle_vector(v, ir.Constant(self.vt, ir.Undefined), mask)

    def fma(self, a, b, c):
        """a*b + c, fused (``llvm.fma``; ``llvm.fmuladd`` on CPUs without FMA)."""
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
    """(output vectors per row, lanes, rows per tile) of a :func:`geometry` argument's type."""
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
# output head
# ------------------------------------------------------------------------------------------


@kernel
def _dense64(x, w, b, out):
    """out[i, k] = b[k] + sum_c x[i, c] * w[c, k], summed in float64 in channel order."""
    for i in range(x.shape[0]):
        for k in range(w.shape[1]):
            acc = np.float64(b[k])
            for c in range(x.shape[1]):
                acc += np.float64(x[i, c]) * np.float64(w[c, k])
            out[i, k] = acc
