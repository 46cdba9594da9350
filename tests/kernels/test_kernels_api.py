"""Public API contract: exports, validation, read-only/strided inputs, config, GIL."""

import importlib
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastbuild_kernels as kernels
from fastbuild_kernels import _numba_config

PUBLIC = ["encode", "reverse_complement", "kmer_counts", "kmer_counts_sparse", "nearest_site_distance",
          "label_positions", "context_features", "context_matrix", "CONTEXT_FEATURES", "downsample_mask", "gc_content",
          "sequence_complexity", "STRATA", "downsample_strata", "local_peaks", "long_context",
          "track_window_means"]
# the numba configuration, for numba code elsewhere
CONFIG = ["kernel", "KERNEL_OPTIONS", "JIT_DISABLED", "cache_root", "skip_blas_probe"]


def test_exports_and_docstrings():
    assert sorted(kernels.__all__) == sorted(PUBLIC + CONFIG)
    assert "0-based" in kernels.__doc__
    for name in PUBLIC:
        obj = getattr(kernels, name)
        if callable(obj):
            assert "Returns" in obj.__doc__ and "----" in obj.__doc__, name


def _ro(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


def _strided(a):
    a = np.asarray(a)
    b = np.empty((*a.shape[:-1], 2 * a.shape[-1]), a.dtype)
    b[..., ::2] = a
    return b[..., ::2]


@pytest.mark.parametrize("wrap", [_ro, _strided, lambda a: _ro(_strided(a))])
def test_readonly_and_strided_inputs(wrap):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 500).astype(np.uint8)
    pos = rng.integers(0, 500, 30)
    c2, p2 = wrap(codes), wrap(pos)
    np.testing.assert_array_equal(kernels.reverse_complement(c2), kernels.reverse_complement(codes))
    np.testing.assert_array_equal(kernels.kmer_counts(c2, 3, p2), kernels.kmer_counts(codes, 3, pos))
    for x, y in zip(kernels.kmer_counts_sparse(c2, 4, p2), kernels.kmer_counts_sparse(codes, 4, pos), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(kernels.gc_content(c2, p2), kernels.gc_content(codes, pos))
    np.testing.assert_array_equal(kernels.sequence_complexity(c2, p2), kernels.sequence_complexity(codes, pos))
    np.testing.assert_array_equal(kernels.nearest_site_distance(p2, wrap(pos[:5])),
                                  kernels.nearest_site_distance(pos, pos[:5]))
    d = rng.random(500).astype(np.float32)
    a = rng.random(500).astype(np.float32)
    n = rng.random(500).astype(np.float32)
    got = kernels.label_positions(wrap(d), wrap(a), p2, wrap(pos[:3]))
    for x, y in zip(got, kernels.label_positions(d, a, pos, pos[:3]), strict=True):
        np.testing.assert_array_equal(x, y)
    f1 = kernels.context_features(wrap(d), wrap(a), wrap(n))
    f2 = kernels.context_features(d, a, n)
    for name in kernels.CONTEXT_FEATURES:
        np.testing.assert_array_equal(f1[name], f2[name])
    pred = (d > 0.9).astype(np.int8)
    dist = kernels.nearest_site_distance(np.arange(500), pos[:3])
    np.testing.assert_array_equal(kernels.downsample_mask(wrap(pred), wrap(d), wrap(dist), seed=3),
                                  kernels.downsample_mask(pred, d, dist, seed=3))
    np.testing.assert_array_equal(kernels.long_context(wrap(np.stack([d, a])), p2, wrap(pos[:3] + 3), 50),
                                  kernels.long_context(np.stack([d, a]), pos, pos[:3] + 3, 50))
    # the caller's arrays keep their flags
    assert codes.flags.writeable and pos.flags.writeable


def test_no_copy_of_contiguous_inputs():
    from fastbuild_kernels._validate import as_codes, as_positions

    codes = np.zeros(10, np.uint8)
    assert np.shares_memory(as_codes(codes), codes)
    pos = np.arange(5, dtype=np.int64)
    assert np.shares_memory(as_positions(pos, 10), pos)
    assert as_positions(np.arange(5, dtype=np.int32), 10).dtype == np.int64


def test_validation_errors():
    codes = np.zeros(10, np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        kernels.kmer_counts(codes.astype(np.int64), 3, [1])
    with pytest.raises(ValueError, match=r"0\.\.4"):
        kernels.kmer_counts(np.full(10, 5, np.uint8), 3, [1])
    with pytest.raises(ValueError, match="k must be >= 1"):
        kernels.kmer_counts(codes, 0, [1])
    with pytest.raises(ValueError, match="k must be <= 12"):
        kernels.kmer_counts_sparse(codes, 13, [1])
    with pytest.raises(ValueError, match="k must be <= 12"):
        kernels.kmer_counts(codes, 14, np.arange(10))
    with pytest.raises(ValueError, match="exceeds"):
        kernels.kmer_counts(codes, 12, np.zeros(200, np.int64))
    with pytest.raises(ValueError, match="left"):
        kernels.kmer_counts(codes, 3, [1], left=-1)
    with pytest.raises(ValueError, match="window too long"):
        kernels.kmer_counts(codes, 3, [1], left=70000)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        kernels.kmer_counts(codes, 3, [10])
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        kernels.gc_content(codes, [-1])
    with pytest.raises(TypeError, match="integer"):
        kernels.kmer_counts(codes, 3, [1.0])
    with pytest.raises(TypeError, match="integer"):
        kernels.kmer_counts(codes, 3.0, [1])
    with pytest.raises(ValueError, match="1-D"):
        kernels.kmer_counts(codes.reshape(2, 5), 3, [1])
    with pytest.raises(TypeError):
        kernels.context_features(np.array(["a"]), np.array(["b"]), np.array(["c"]))
    with pytest.raises(ValueError, match="length"):
        kernels.context_features(np.zeros(3), np.zeros(3), np.zeros(4))


def test_cache_switch_and_options():
    assert kernels.KERNEL_OPTIONS["nogil"] is True
    assert kernels.KERNEL_OPTIONS["fastmath"] is False
    assert kernels.KERNEL_OPTIONS["cache"] is _numba_config.CACHE
    with pytest.raises(TypeError):
        kernels.KERNEL_OPTIONS["fastmath"] = True  # read-only: kernel() is the one way to override
    assert kernels.kernel is _numba_config.kernel and kernels.JIT_DISABLED is _numba_config.JIT_DISABLED
    code = "import fastbuild_kernels._numba_config as c; print(c.CACHE)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for val, expected in (("0", "False"), ("1", "True"), ("off", "False")):
        env["FASTBUILD_NUMBA_CACHE"] = val
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected
    if kernels.JIT_DISABLED:
        return  # NUMBA_DISABLE_JIT=1: kernels are plain functions, no dispatcher options to check
    # every kernel dispatcher uses the shared options
    from fastbuild_kernels import context, distance, downsample, encoding, kmers, labels

    long_context = importlib.import_module("fastbuild_kernels.long_context")  # the module, not the function
    track_windows = importlib.import_module("fastbuild_kernels.track_windows")
    for disp in (encoding._map_kernel, kmers._kmer_kernel, distance._nearest_kernel, labels._label_kernel,
                 context._context_kernel, downsample._downsample_kernel, downsample._local_peaks_kernel,
                 long_context._long_context_kernel, long_context._block_maxima,
                 track_windows._track_window_means_kernel):
        assert disp.targetoptions["nogil"] is True
        assert disp.targetoptions.get("fastmath", False) is False


def test_kernels_release_the_gil():
    """Two threads run the k-mer kernel at once; results equal the serial ones."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 200_000).astype(np.uint8)
    pos = np.arange(0, 200_000, 7)
    ref = kernels.kmer_counts(codes, 3, pos)
    out = [None, None]

    def work(i):
        out[i] = kernels.kmer_counts(codes, 3, pos)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for o in out:
        np.testing.assert_array_equal(o, ref)


def _readonly_c_twin(arr, dtype=None):
    """The obviously-correct form of readonly_c (np.require, then a read-only view)."""
    out = np.require(arr, dtype=dtype, requirements=("C", "A"))
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


@pytest.mark.parametrize("dtype", [None, np.float32, np.int64, np.dtype(np.uint8)])
@pytest.mark.parametrize("make", ["plain", "readonly", "strided", "other_dtype", "list", "fortran2d", "subclass"])
def test_readonly_c_matches_its_twin(make, dtype):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    arr = {"plain": base.copy(), "readonly": _ro(base), "strided": base[:, ::2], "other_dtype": base.astype(np.int16),
           "list": base.tolist(), "fortran2d": np.asfortranarray(base), "subclass": np.ma.masked_array(base)}[make]
    was_writeable = getattr(arr, "flags", None) is not None and arr.flags.writeable
    got, want = _numba_config.readonly_c(arr, dtype), _readonly_c_twin(arr, dtype)
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want) and got.flags.c_contiguous and got.flags.aligned and not got.flags.writeable
    assert isinstance(arr, list) or arr.flags.writeable == was_writeable  # the caller's flags are untouched
    assert (np.shares_memory(got, arr) if isinstance(arr, np.ndarray) else True) == \
        (np.shares_memory(want, arr) if isinstance(arr, np.ndarray) else True)
