"""Edits scored by their cone (fastbuild.basemodel.cone) equal whole passes over the edited windows."""

from __future__ import annotations

import numpy as np
import pytest
from bm_helpers import random_codes, random_state_dict, reference_forward

from fastbuild.basemodel.cone import ReferenceTrunk, score_edits
from fastbuild.basemodel.forward import ForwardPass, NumpyRunner
from fastbuild.basemodel.models import network_from_state_dict
from fastbuild.basemodel.runner import Edit, Runner
from fastbuild.errors import FastbuildError

EPS, SLOPE = 1e-5, 0.1


def _net(n_units: int, seed: int = 5):
    sd = random_state_dict(n_units, seed=seed)
    return sd, network_from_state_dict(sd, eps=EPS, negative_slope=SLOPE)


def _edit_case(rng, n: int, flank: int, distance: int) -> Edit:
    """A random edit (SNV, MNV, deletion or insertion) and its variant-centred window."""
    lr, la = [(1, 1), (2, 2), (int(rng.integers(2, 9)), 1), (1, int(rng.integers(2, 9)))][rng.integers(4)]
    p = int(rng.integers(distance + flank, n - distance - flank - lr))
    alt = rng.integers(0, 5, la).astype(np.uint8)
    start, stop = p - distance - flank, p + distance + flank + 1 + (la - lr)
    return Edit(p, lr, alt, start, stop)


@pytest.mark.parametrize("n_units", [4, 8])
def test_random_edits_match_whole_passes(n_units):
    """Many random edits on small networks: every window's scores within float32 rounding of a
    whole pass over it, and the reference's scores bit for bit those of a whole pass."""
    _, net = _net(n_units)
    engine = ForwardPass(1)
    rng = np.random.default_rng(n_units)
    codes = random_codes(4000, seed=2)
    trunk = ReferenceTrunk(engine, net, codes)
    assert np.array_equal(trunk.scores, engine.forward(net, codes))
    for _ in range(40):
        e = _edit_case(rng, codes.size, net.flank, int(rng.integers(0, 60)))
        got = trunk.edit(*e)
        want = engine.forward(net, e.window(codes))
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) < 2e-6, e


def test_spliceai_topology_edit_matches_float64_reference():
    """The 10,000-nt topology (16 units, flank 5,000): an insertion and a deletion near the edge of
    the window, against the engine's whole pass and the plain float64 network."""
    sd, net = _net(16, seed=9)
    engine = ForwardPass(1)
    d, f = 50, net.flank
    codes = random_codes(2 * f + 2 * d + 1 + 300, seed=4)
    trunk = ReferenceTrunk(engine, net, codes)
    for p, lr, alt in ((f + d + 40, 1, [0, 1, 2, 3]), (f + d + 250, 4, [2])):
        e = Edit(p, lr, np.array(alt, np.uint8), p - d - f, p + d + f + 1 + len(alt) - lr)
        got = trunk.edit(*e)
        assert np.max(np.abs(got - engine.forward(net, e.window(codes)))) < 2e-6
        want = reference_forward(sd, e.window(codes), EPS, SLOPE)
        assert np.max(np.abs(got - want)) < 1e-4
        assert np.max(np.abs(got - trunk.scores[p - d - f : p - d - f + got.shape[0]])) > 1e-4  # the edit matters


def test_runner_score_edits_members_and_threads():
    """NumpyRunner.score_edits (two members, two threads) against the generic whole-window path:
    references bit for bit, edits within float32 rounding; an empty edit list is fine."""
    nets = [_net(4, seed=s)[1] for s in (1, 2)]
    runner = NumpyRunner(nets, threads=2)
    rng = np.random.default_rng(0)
    refs = [random_codes(600, seed=s) for s in (3, 4, 5)]
    edits = [[_edit_case(rng, 600, runner.flank, 20) for _ in range(k)] for k in (3, 0, 2)]
    got_ref, got_edits = runner.score_edits(refs, edits)
    want_ref, want_edits = Runner.score_edits(runner, refs, edits)
    for a, b in zip(got_ref, want_ref, strict=True):
        assert np.array_equal(a, b)
    for ga, wa in zip(got_edits, want_edits, strict=True):
        assert len(ga) == len(wa)
        for a, b in zip(ga, wa, strict=True):
            assert a.dtype == np.float32 and np.max(np.abs(a - b)) < 2e-6
    assert score_edits(runner, [], []) == ([], [])
    runner.close()


def test_edit_outside_the_stream_is_refused():
    _, net = _net(4)
    trunk = ReferenceTrunk(ForwardPass(1), net, random_codes(300, seed=1))
    with pytest.raises(FastbuildError, match="outside the reference stream"):
        trunk.edit(100, 1, np.array([1], np.uint8), 120, 200)  # window starts right of the edit
    with pytest.raises(FastbuildError, match="outside the reference stream"):
        trunk.edit(250, 1, np.array([1], np.uint8), 200, 301)
