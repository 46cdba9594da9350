"""Scores of edited sequences by recomputing only the cone an edit changes.

A variant changes the model's activations only near itself: after a layer whose inputs reach
``c`` bases either way, at most the rows within ``c`` of the edited bases differ from the
reference's. :class:`ReferenceTrunk` runs one network over one reference stream (exactly as
:meth:`ForwardPass.forward` does, the same kernels over the same rows) and keeps, for every
residual unit, its input streams (``x``: residual; ``a``: BatchNorm-1 + activation) and its
intermediate stream ``h``. :meth:`ReferenceTrunk.edit` then computes the scores of the stream with
``ref_len`` bases at index ``p`` replaced by the alternative bases, over an output window, by
running each convolution only over the rows that are both inside the edit's cone and needed by
the window's outputs, and reading every other row from the reference's streams (shifted by the
length difference right of the edit). For a 10,000-nt SpliceAI network and 101 scored positions
that is about a quarter of the multiplications of a valid-convolution pass over the
alternative window.

Results equal a full pass over the alternative sequence within float32 rounding: the kernels
are the same, but a convolution over a sub-range of rows may take another split into pairwise
(Karatsuba) blocks than the full pass does.

Coordinates ("alt coordinates"): a row ``t < p`` of the edited stream is the reference's row
``t``; a row ``t >= p + alt_len`` is the reference's row ``t - (alt_len - ref_len)``; rows
``p .. p + alt_len - 1`` are the alternative bases.
"""

from __future__ import annotations

import numpy as np

from fastbuild.basemodel.forward_numba_fns import _dense64, direct_supported
from fastbuild.basemodel.layers import _act, _c32, _member_mean, _softmax, _table
from fastbuild.basemodel.runner import Runner
from fastbuild.errors import FastbuildError

__all__ = ["EDIT_COST_BASES", "ReferenceTrunk", "cone_supported", "score_edits"]


def cone_supported(engine, net) -> bool:
    """Whether :class:`ReferenceTrunk` can run ``net`` on ``engine`` (the direct method only)."""
    return engine.method_for(net) == "direct" and direct_supported(net.channels, net.channels)


class _Edit:
    """One edit's coordinates and a reader of reference rows in its alt coordinates."""

    def __init__(self, p: int, ref_len: int, alt_len: int):
        self.p, self.la, self.shift = p, alt_len, alt_len - ref_len

    def fill(self, dst: np.ndarray, frame: int, src: np.ndarray, s: int, e: int) -> None:
        """dst rows for alt rows [s, e) (dst row 0 = alt row ``frame``) from the reference stream
        ``src``; the alternative bases' rows are left as they are."""
        p, q = self.p, self.p + self.la
        if s < min(e, p):
            dst[s - frame : min(e, p) - frame] = src[s : min(e, p)]
        if max(s, q) < e:
            a = max(s, q)
            dst[a - frame : e - frame] = src[a - self.shift : e - self.shift]


def _put(dst: np.ndarray, frame: int, values: np.ndarray, lo: int, s: int, e: int) -> None:
    """dst rows for alt rows [s, e) ∩ [lo, lo + len(values)) from ``values`` (row 0 = alt row lo)."""
    a, b = max(s, lo), min(e, lo + values.shape[0])
    if a < b:
        dst[a - frame : b - frame] = values[a - lo : b - lo]


class ReferenceTrunk:
    """One network's streams over one reference stream, for scoring edits of it by cones.

    Parameters
    ----------
    engine : fastbuild.basemodel.forward.ForwardPass
        Runs the convolutions (best single-threaded: edits are small; run several trunks on
        several engines instead).
    net : Network
    codes : numpy.ndarray
        Reference codes (A=0, C=1, G=2, T=3, other=4), with ``net.flank`` bases of context on
        each side.

    Attributes
    ----------
    scores : numpy.ndarray
        float32 ``[len(codes) - 2*flank, 3]``: the reference's softmax outputs, bit for bit those
        of ``engine.forward(net, codes)``.

    The streams live in the engine's workspace: a trunk can score edits until the next trunk is
    made on the same engine.
    """

    def __init__(self, engine, net, codes: np.ndarray):
        if not cone_supported(engine, net):
            raise FastbuildError("cone scoring needs the direct method of the numpy engine")
        self.engine, self.net = engine, net
        self.idx = np.minimum(np.asarray(codes).astype(np.intp), 4)
        self.n_in = self.idx.shape[0]
        n = self.n_in - 2 * net.flank
        if n <= 0:
            raise FastbuildError("reference stream shorter than both flanks")
        c_n = net.channels
        self.slope = np.float32(net.negative_slope)
        self.ones, self.zeros = np.ones(c_n, np.float32), np.zeros(c_n, np.float32)
        self.table = _table(net)
        u0 = net.units[0] if net.units else None
        sc, sh = (u0.bn1_scale, u0.bn1_shift) if u0 is not None else (self.ones, self.zeros)
        self.a_table = _act(self.table * sc + sh, self.slope).astype(np.float32)
        self.xs, self.as_, self.hs = [], [], []
        skip = self._run(n)
        self.scores = self._head(skip)

    def _res(self, ui: int, aout: np.ndarray) -> tuple:
        units = self.net.units
        nxt = units[ui + 1] if ui + 1 < len(units) else None
        return (nxt.bn1_scale, nxt.bn1_shift, aout) if nxt is not None else (self.ones, self.zeros, aout)

    def _run(self, n: int) -> np.ndarray:
        """The reference pass (as ``ForwardPass._trunk_direct``), keeping every unit's streams in
        buffers of the engine's workspace (reused by its next trunk: no page faults, one copy a unit)."""
        eng, net, flank = self.engine, self.net, self.net.flank
        ws, shape = eng._big, (self.n_in, net.channels)
        x = np.take(self.table, self.idx, axis=0, out=ws.get("cone_x0", shape))
        a = np.take(self.a_table, self.idx, axis=0, out=ws.get("cone_a0", shape))
        d = (ws.get("cone_d", shape),)
        skip, tmp = ws.get("cone_skip", (n, net.channels)), ws.get("cone_tmp", (n, net.channels))
        one = np.float32(1.0)
        w0, b0 = net.skips[0]
        eng._direct(x, skip, 0, n, -flank, (1, 1), (w0, None, b0, None), one)
        lo, hi = 0, self.n_in
        for ui, u in enumerate(net.units):
            hf, sh = u.half, (u.width, u.dilation)
            h = ws.get(f"cone_h{ui}", shape)
            eng._direct(a, h, lo + hf, hi - hf, hf, sh, (u.w1, u.k1, u.b1, u.q1), self.slope, scratch=d)
            x2, a2 = ws.get(f"cone_x{ui + 1}", shape), ws.get(f"cone_a{ui + 1}", shape)
            x2[lo + 2 * hf : hi - 2 * hf] = x[lo + 2 * hf : hi - 2 * hf]
            eng._direct(h, x2, lo + 2 * hf, hi - 2 * hf, hf, sh, (u.w2, u.k2, u.b2, u.q2), self.slope,
                        self._res(ui, a2), d)
            self.xs.append(x)
            self.as_.append(a)
            self.hs.append(h)
            x, a, lo, hi = x2, a2, lo + 2 * hf, hi - 2 * hf
            if ui + 1 in net.skips:
                ws_, bs = net.skips[ui + 1]
                eng._direct(x, skip, 0, n, -flank, (1, 1), (ws_, None, bs, None), one, (self.ones, self.zeros, tmp))
        self.xs.append(x)
        return skip

    def _head(self, skip: np.ndarray) -> np.ndarray:
        logits = np.empty((skip.shape[0], self.net.out_w.shape[1]), dtype=np.float64)
        _dense64(skip, _c32(self.net.out_w), _c32(self.net.out_b), logits)
        return _softmax(logits)

    def edit(self, p: int, ref_len: int, alt_codes: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Scores of the edited stream over the window of alt rows [start, stop).

        Parameters
        ----------
        p : int
            Index in the reference stream of the first replaced base.
        ref_len : int
            Reference bases replaced (>= 1).
        alt_codes : numpy.ndarray
            The bases put in their place (>= 1).
        start, stop : int
            The window, in alt coordinates (see the module docstring), flanks included: the
            outputs are its rows ``start + flank .. stop - flank - 1``. The window's reference
            rows must lie inside the reference stream.

        Returns
        -------
        numpy.ndarray
            float32 ``[stop - start - 2*flank, 3]``, within float32 rounding of
            ``engine.forward(net, edited[start:stop])``.
        """
        alt = np.minimum(np.asarray(alt_codes).astype(np.intp), 4)
        ed = _Edit(int(p), int(ref_len), int(alt.shape[0]))
        if alt.shape[0] < 1 or ref_len < 1 or start > p or stop - ed.shift > self.n_in or start < 0:
            raise FastbuildError("edit window outside the reference stream")
        cone = (ed.p, np.take(self.table, alt, axis=0), np.take(self.a_table, alt, axis=0))
        skips = {0: (cone[0], cone[1])}
        lo, hi, c = start, stop, 0
        for ui, u in enumerate(self.net.units):
            cone = self._unit(ui, u, ed, lo, hi, c, cone)
            lo, hi, c = lo + 2 * u.half, hi - 2 * u.half, c + 2 * u.half
            if ui + 1 in self.net.skips:  # (a copy: the unit after next reuses the buffer)
                skips[ui + 1] = (cone[0], cone[1].copy())
        return self._edited_head(ed, start + self.net.flank, stop - self.net.flank, skips)

    def _unit(self, ui: int, u, ed: _Edit, lo: int, hi: int, c: int, cone: tuple) -> tuple:
        """One residual unit over the rows its cone and the window both need: the new cone
        (first alt row, x rows, a rows)."""
        hf, sh, p, q = u.half, (u.width, u.dilation), ed.p, ed.p + ed.la
        c_lo, cx, ca = cone
        h_lo, h_hi = max(lo + hf, p - c - hf), min(hi - hf, q + c + hf)
        x_lo, x_hi = max(lo + 2 * hf, p - c - 2 * hf), min(hi - 2 * hf, q + c + 2 * hf)
        f0, f1 = min(h_lo, x_lo) - hf, max(h_hi, x_hi) + hf
        shape, ws, k = (f1 - f0, self.net.channels), self.engine._ws[0], ui % 2
        a_loc, h_loc, d = ws.get("cone_a", shape), ws.get("cone_h", shape), (ws.get("cone_d", shape),)
        x_loc, a_out = ws.get(f"cone_x{k}", shape), ws.get(f"cone_o{k}", shape)  # read by the next unit
        ed.fill(a_loc, f0, self.as_[ui], h_lo - hf, h_hi + hf)
        _put(a_loc, f0, ca, c_lo, h_lo - hf, h_hi + hf)
        self.engine._direct(a_loc, h_loc, h_lo - f0, h_hi - f0, hf, sh, (u.w1, u.k1, u.b1, u.q1), self.slope,
                            scratch=d)
        ed.fill(h_loc, f0, self.hs[ui], x_lo - hf, h_lo)  # the reference's h around the computed rows
        ed.fill(h_loc, f0, self.hs[ui], h_hi, x_hi + hf)
        ed.fill(x_loc, f0, self.xs[ui], x_lo, x_hi)  # (x_loc's other rows are never read)
        _put(x_loc, f0, cx, c_lo, x_lo, x_hi)
        self.engine._direct(h_loc, x_loc, x_lo - f0, x_hi - f0, hf, sh, (u.w2, u.k2, u.b2, u.q2), self.slope,
                            self._res(ui, a_out), d)
        return x_lo, x_loc[x_lo - f0 : x_hi - f0], a_out[x_lo - f0 : x_hi - f0]

    def _edited_head(self, ed: _Edit, out_lo: int, out_hi: int, skips: dict) -> np.ndarray:
        """Softmax outputs of alt rows [out_lo, out_hi) from the skip points' x rows."""
        n, c_n = out_hi - out_lo, self.net.channels
        skip, tmp = np.empty((n, c_n), np.float32), np.empty((n, c_n), np.float32)
        x_loc = np.empty((n, c_n), np.float32)
        one = np.float32(1.0)
        for k, (s, (c_lo, cx)) in enumerate(sorted(skips.items())):
            ed.fill(x_loc, out_lo, self.xs[s], out_lo, out_hi)
            _put(x_loc, out_lo, cx, c_lo, out_lo, out_hi)
            ws, bs = self.net.skips[s]
            res = None if k == 0 else (self.ones, self.zeros, tmp)
            self.engine._direct(x_loc, skip, 0, n, 0, (1, 1), (ws, None, bs, None), one, res)
        return self._head(skip)


#: Relative cost of one edit against one base of reference stream, for ordering jobs (measured:
#: ~17 ms an edit, ~7 ms per 1,000 bases of reference, SpliceAI-10k, one AMD EPYC thread).
EDIT_COST_BASES = 2500


def score_edits(runner, references: list, edits: list) -> tuple[list, list]:
    """:meth:`Runner.score_edits` for the numpy engine: one job per (reference, member) on the
    runner's single-threaded engines, largest first; each job runs the reference once
    (:class:`ReferenceTrunk`) and then every edit of it by its cone. Members are averaged in
    float64 in member order, as :meth:`NumpyRunner.score_many` does, so the reference scores
    equal :meth:`NumpyRunner.score_many`'s bit for bit."""
    nets = runner.networks
    engines = runner.solo_engines()
    if not all(cone_supported(engines[0], n) for n in nets):
        return Runner.score_edits(runner, references, edits)
    refs = [np.asarray(r) for r in references]
    cost = [refs[i].shape[0] + EDIT_COST_BASES * len(edits[i]) for i in range(len(refs))]
    jobs = sorted(((i, k) for i in range(len(refs)) for k in range(len(nets))), key=lambda j: -cost[j[0]])
    results = [[None] * len(nets) for _ in refs]

    def one(engine, job):
        i, k = job
        trunk = ReferenceTrunk(engine, nets[k], refs[i])
        results[i][k] = (trunk.scores, [trunk.edit(*e) for e in edits[i]])

    runner.pull_jobs(jobs, one)
    ref_out = [_member_mean([r[k][0] for k in range(len(nets))]) for r in results]
    edit_out = [[_member_mean([r[k][1][j] for k in range(len(nets))]) for j in range(len(edits[i]))]
                for i, r in enumerate(results)]
    return ref_out, edit_out
