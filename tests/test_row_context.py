"""The builder's score-context features of kept rows (fastbuild.builder.rows._context): the
gene-wide pass and the per-row neighbourhoods give the same values, bit for bit, and both match
the kernel run over the whole gene."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbuild_kernels as kernels
from fastbuild.builder.rows import _context_gene_wide, _context_patches


@st.composite
def genes(draw):
    n = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([0.3, 0.3, 3.0], size=n).astype(np.float32)
    if draw(st.booleans()):  # exact zeros and ones, as real scores have
        probs[rng.random(n) < 0.3] = np.array([0, 0, 1], np.float32)
    kept = np.flatnonzero(rng.random(n) < draw(st.sampled_from([0.05, 0.2, 0.5, 1.0])))
    if draw(st.booleans()):
        kept = np.union1d(kept, [0, n - 1]).astype(np.int64)  # the gene ends
    return probs[:, 0].copy(), probs[:, 1].copy(), probs[:, 2].copy(), kept.astype(np.int64)


@settings(max_examples=150, deadline=None)
@given(genes())
def test_gene_wide_and_patches_agree_bit_for_bit(gene):
    donor, acceptor, neither, kept = gene
    wide = _context_gene_wide(donor, acceptor, neither, kept)
    patches = _context_patches(donor, acceptor, neither, kept)
    whole = kernels.context_features(donor, acceptor, neither)
    assert wide.shape == patches.shape == (len(kernels.CONTEXT_FEATURES), kept.size)
    assert wide.dtype == patches.dtype == np.float32
    for r, name in enumerate(kernels.CONTEXT_FEATURES):
        np.testing.assert_array_equal(wide[r].view(np.uint32), patches[r].view(np.uint32), err_msg=name)
        np.testing.assert_array_equal(wide[r].view(np.uint32), whole[name][kept].view(np.uint32), err_msg=name)
