"""Arrow arrays from and to numpy through buffers (fastbuild.arrow_buffers) equal pyarrow's own
conversions; a build imports neither pandas nor pyarrow.dataset; batch files' column layout."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastbuild.arrow_buffers import coded_strings, numpy_array, repeated_strings, string_array, to_numpy
from fastbuild.builder.writer import DENSE_FLOATS

TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64(),
         pa.float32(), pa.float64(), pa.bool_()]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(TYPES) - 1), st.integers(0, 70), st.booleans(), st.integers(0, 2**31))
def test_numpy_array_equals_pa_array(t, n, with_mask, seed):
    """Values, nulls and type equal ``pa.array(data, type=..., mask=...)`` (sizes across byte
    boundaries of the bitmaps, with and without nulls)."""
    rng = np.random.default_rng(seed)
    typ = TYPES[t]
    data = (rng.integers(0, 2, n).astype(bool) if pa.types.is_boolean(typ)
            else rng.integers(0, 100, n).astype(typ.to_pandas_dtype()))
    mask = rng.integers(0, 2, n).astype(bool) if with_mask else None
    got = numpy_array(data, typ, mask)
    got.validate(full=True)
    assert got.equals(pa.array(data, type=typ, mask=mask))
    assert got.null_count == (int(mask.sum()) if with_mask else 0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=12)), st.integers(0, 40)), max_size=12))
def test_repeated_strings_equals_the_decoded_dictionary(runs):
    """Each value repeated its count: what pyarrow gives from a dictionary array with repeated
    codes cast to string (the builder's former way), unicode, empty strings, nulls and zero counts
    included."""
    values, counts = [v for v, _ in runs], [c for _, c in runs]
    got = repeated_strings(values, counts)
    got.validate(full=True)
    codes = np.repeat(np.arange(len(values), dtype=np.int32), counts)
    want = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string())).cast(pa.string())
    assert got.type == pa.string() and got.equals(want)
    assert got.to_pylist() == [v for v, c in runs for _ in range(c)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=9), min_size=1, max_size=6), st.integers(0, 200), st.sampled_from(["int8", "int64"]),
       st.integers(0, 2**31))
def test_coded_strings_equals_take(labels, n, dtype, seed):
    """labels[codes] row by row: what pyarrow's take gives (unicode and empty labels included)."""
    codes = np.random.default_rng(seed).integers(0, len(labels), n).astype(dtype)
    got = coded_strings(labels, codes)
    got.validate(full=True)
    assert got.equals(pa.array(labels, pa.string()).take(pa.array(codes)))


def test_coded_strings_refuses_codes_out_of_range():
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 2\)"):
        coded_strings(["a", "b"], np.array([0, 2], np.int8))
    with pytest.raises(ValueError, match="1-D integer codes"):
        coded_strings(["a"], np.array([0.0]))


def test_repeated_strings_refuses_bad_counts():
    with pytest.raises(ValueError, match="one non-negative count per value"):
        repeated_strings(["a", "b"], [1])
    with pytest.raises(ValueError, match="one non-negative count per value"):
        repeated_strings(["a"], [-1])


def test_numpy_array_converts_and_copies_strided_input():
    """Another dtype goes through pyarrow's checked conversion (float64 rounds into float32 as
    pyarrow rounds; an int64 value out of int8's range raises, never wraps); strided input is
    made contiguous; 2-D input is refused."""
    x = np.random.default_rng(1).random(101)
    assert numpy_array(x, pa.float32()).equals(pa.array(x, type=pa.float32()))
    assert numpy_array(x[::3], pa.float64()).equals(pa.array(x[::3]))
    assert numpy_array(np.zeros(0, np.int32), pa.int32()).equals(pa.array([], pa.int32()))
    assert numpy_array(np.array([1, 300]), pa.int16()).to_pylist() == [1, 300]
    with pytest.raises(pa.ArrowInvalid):
        numpy_array(np.array([1, 300]), pa.int8())
    with pytest.raises(ValueError, match="1-D"):
        numpy_array(np.zeros((2, 2), np.float32), pa.float32())


def test_string_array_equals_pa_array():
    values = ["ENSG1", None, "", "gène", "AT1G01010", None]
    got = string_array(values)
    got.validate(full=True)
    assert got.equals(pa.array(values, type=pa.string()))
    assert string_array([]).equals(pa.array([], pa.string()))


def test_to_numpy_equals_pyarrow():
    """Slices (an offset into the buffer), several chunks, empty arrays."""
    arr = pa.array(np.arange(50, dtype=np.float32))
    for a in (arr, arr.slice(7, 20), arr.slice(50)):
        assert np.array_equal(to_numpy(a), a.to_numpy())
    chunked = pa.chunked_array([pa.array([1, 2, 3], pa.int64()), pa.array([4], pa.int64())])
    got = to_numpy(chunked)
    assert got.dtype == np.int64 and got.tolist() == [1, 2, 3, 4]
    # nulls and non-primitive types: pyarrow's own conversion (a damaged score chunk's nulls read as NaN)
    nulls = to_numpy(pa.array([1.5, None], pa.float32()))
    assert nulls[0] == 1.5 and np.isnan(nulls[1])
    assert to_numpy(pa.array(["a", "b"])).tolist() == ["a", "b"]


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None,
                    reason="pandas is not installed, so nothing could import it")
def test_a_build_imports_neither_pandas_nor_pyarrow_dataset(tmp_path):
    """pyarrow imports pandas (~0.17 s) on its first pa.array / to_numpy / read_table where pandas
    is installed; a build uses none of them, nor pyarrow.compute (~30 ms: a take or a cast)."""
    code = ("import sys, fastbuild\n"
            f"fastbuild.build_dataset(output_dir={str(tmp_path / 'out')!r}, progress=False)\n"
            "print(sorted(m for m in ('pandas', 'pyarrow.dataset', 'pyarrow.compute') if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]", res.stdout


def test_batch_file_layout(tmp_path):
    """Dense score-context floats are stored PLAIN and uncompressed; every other column, the sparse
    k-mer lists' values included, LZ4 (a per-column setting that named a list column by its field
    name instead of its leaf path would leave the lists uncompressed: 9x larger files)."""
    import fastbuild

    # (a pathlib.Path as output_dir: the configuration's JSON form once failed on it)
    fastbuild.build_dataset(output_dir=tmp_path / "out", progress=False, kmer_sizes=(6,), kmer_layout="sparse")
    path = sorted((tmp_path / "out").glob("batch_*_trim.parquet"))[0]
    md = pq.ParquetFile(path).metadata.row_group(0)
    layout = {md.column(i).path_in_schema: (md.column(i).compression, md.column(i).encodings)
              for i in range(md.num_columns)}
    assert layout["6mer_ids.list.element"][0] == "LZ4"
    assert layout["6mer_counts.list.element"][0] == "LZ4"
    dense = [c for c in layout if c in DENSE_FLOATS]
    assert "donor_score" in dense and "donor_m1" in dense and len(dense) >= 40
    for c, (codec, encodings) in layout.items():
        assert codec == ("UNCOMPRESSED" if c in DENSE_FLOATS else "LZ4"), c
        if c in DENSE_FLOATS:
            assert "BYTE_STREAM_SPLIT" not in encodings, c
    assert "BYTE_STREAM_SPLIT" in layout["donor_sum_up30"][1]


def test_console_exit_keeps_status_and_output(tmp_path):
    """``python -m fastbuild`` ends with ``os._exit`` after a command: the exit status and every
    line written are kept (success, a user error, a broken option)."""
    ok = subprocess.run([sys.executable, "-m", "fastbuild", "build", "--n-genes", "3", "--output-dir",
                         str(tmp_path / "o"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "rows by pred_type" in ok.stdout and ok.stdout.endswith("\n")
    assert (tmp_path / "o" / "_SUCCESS").is_file()
    bad = subprocess.run([sys.executable, "-m", "fastbuild", "build", "--reference", str(tmp_path / "missing"),
                          "--output-dir", str(tmp_path / "b")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "fastbuild: error:" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "fastbuild", "build", "--no-such-option"],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert usage.returncode == 2 and "unrecognized arguments" in usage.stderr
    # standard output or error closed at start (sys.stdout / sys.stderr None): statuses unchanged
    for closed in ("1>&-", "2>&-"):
        for args, want in ((f"build --n-genes 2 --no-progress --output-dir {tmp_path / closed[0]}", 0),
                           (f"build --reference {tmp_path / 'missing'} --output-dir {tmp_path / 'c'}", 2)):
            res = subprocess.run(f"{sys.executable} -m fastbuild {args} {closed}", shell=True, timeout=300,
                                 capture_output=True, cwd=tmp_path)
            assert res.returncode == want, (closed, args, res.returncode)
