"""Model files are untrusted input: corrupt or crafted .pt / .h5 files give one clear error line.

The PyTorch checkpoints here are written by hand (a protocol-2 pickle emitted opcode by opcode,
zipped like ``torch.save`` does), so every field a crafted file could set (storage type, size,
offset, sizes, strides) can be set to anything. The fuzz tests load their files in a separate
worker process, so an interpreter crash (a segfault from an out-of-bounds read) fails the test
instead of killing pytest.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from bm_helpers import REPO, random_state_dict, write_fake_keras_h5
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastbuild.basemodel.models import load_model
from fastbuild.basemodel.torchfile import load_state_dict
from fastbuild.errors import FastbuildError

# --------------------------------------------------------------------------------------------
# A minimal torch.save writer (no PyTorch)
# --------------------------------------------------------------------------------------------

TYPE_OF_DTYPE = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}
ITEMSIZE = {t: np.dtype(d).itemsize for d, t in TYPE_OF_DTYPE.items()}


@dataclass(frozen=True)
class Global:
    """A pickled reference to ``module.name``."""

    module: str
    name: str


@dataclass(frozen=True)
class Call:
    """``func(*args)`` in the pickle (a REDUCE)."""

    func: object
    args: tuple


@dataclass(frozen=True)
class PersId:
    """A persistent id (BINPERSID) of ``record``."""

    record: tuple


ORDERED_DICT = Global("collections", "OrderedDict")


def tensor(stype, key, numel, offset, size, stride, location="cpu"):
    """The pickled form of one tensor, exactly as ``torch.save`` writes it."""
    pid = PersId(("storage", Global("torch", stype), key, location, numel))
    args = (pid, offset, size, stride, False, Call(ORDERED_DICT, ()))
    return Call(Global("torch._utils", "_rebuild_tensor_v2"), args)


def _emit_int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -(2**31) <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def emit(obj) -> bytes:
    """Pickle opcodes (protocol 2) that rebuild ``obj``."""
    if obj is None or isinstance(obj, bool):
        return {None: b"N", True: b"\x88", False: b"\x89"}[obj]
    if isinstance(obj, int):
        return _emit_int(obj)
    if isinstance(obj, float):
        return b"G" + struct.pack(">d", obj)
    if isinstance(obj, str):
        raw = obj.encode()
        return b"X" + struct.pack("<I", len(raw)) + raw
    if isinstance(obj, tuple):
        return b"(" + b"".join(emit(o) for o in obj) + b"t"
    if isinstance(obj, list):
        return b"](" + b"".join(emit(o) for o in obj) + b"e"
    if isinstance(obj, Global):
        return f"c{obj.module}\n{obj.name}\n".encode()
    if isinstance(obj, Call):
        return emit(obj.func) + emit(tuple(obj.args)) + b"R"
    if isinstance(obj, PersId):
        return emit(obj.record) + b"Q"
    if isinstance(obj, dict):
        items = b"".join(emit(k) + emit(v) for k, v in obj.items())
        return emit(Call(ORDERED_DICT, ())) + (b"(" + items + b"u" if obj else b"")
    raise TypeError(type(obj))


def pickle_bytes(obj) -> bytes:
    """A complete protocol-2 pickle of ``obj``."""
    return b"\x80\x02" + emit(obj) + b"."


def zip_checkpoint(path, pkl: bytes, records: dict) -> Path:
    """Write ``pkl`` and the storage ``records`` (key -> bytes) as a torch.save zip archive."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", b"little")
        for key, raw in records.items():
            zf.writestr(f"archive/data/{key}", raw)
        zf.writestr("archive/version", b"3\n")
    return Path(path)


def state_dict_parts(sd) -> tuple[dict, dict]:
    """(pickled object, storage records) of a numpy state dict, one storage per tensor."""
    obj, records = {}, {}
    for i, (name, arr) in enumerate(sd.items()):
        arr = np.array(arr, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        stride = tuple(s // arr.itemsize for s in arr.strides)
        obj[name] = tensor(TYPE_OF_DTYPE[arr.dtype.name], str(i), arr.size, 0, arr.shape, stride)
        records[str(i)] = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    return obj, records


def write_state_dict(path, sd) -> Path:
    """Write a numpy state dict as a PyTorch zip checkpoint."""
    obj, records = state_dict_parts(sd)
    return zip_checkpoint(path, pickle_bytes(obj), records)


def one_tensor_pt(path, stype="FloatStorage", numel=12, offset=0, size=(3, 4), stride=(4, 1), raw=None) -> Path:
    """A checkpoint of a single tensor ``w`` whose every field can be set to anything."""
    if raw is None:
        raw = np.arange(numel if isinstance(numel, int) and 0 <= numel < 1000 else 0, dtype=np.float32).tobytes()
    return zip_checkpoint(path, pickle_bytes({"w": tensor(stype, "0", numel, offset, size, stride)}), {"0": raw})


def small_network_sd(seed=0):
    """A small but complete OpenSpliceAI state dict (4 residual units, 4 channels)."""
    return random_state_dict(4, channels=4, seed=seed)


# --------------------------------------------------------------------------------------------
# The writer is faithful: what it writes loads back exactly (so the bad inputs below are real)
# --------------------------------------------------------------------------------------------


def test_writer_round_trip(tmp_path):
    sd = small_network_sd()
    sd["flags"] = np.array([True, False, True])
    sd["step"] = np.array(7, dtype=np.int64)
    got = load_state_dict(write_state_dict(tmp_path / "m.pt", sd))
    assert list(got) == list(sd)
    for k, v in sd.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
    model = load_model(tmp_path / "m.pt")
    assert model.flank > 0


def test_strided_views_of_one_storage(tmp_path):
    base = np.arange(24, dtype=np.float32)
    obj = {
        "t": tensor("FloatStorage", "s", 24, 1, (3, 4), (1, 3)),  # a transposed view at offset 1
        "e": tensor("FloatStorage", "s", 24, 5, (2, 3), (0, 2)),  # an expanded (stride 0) view
        "z": tensor("FloatStorage", "s", 24, 23, (), ()),  # a 0-d tensor on the last element
        "n": tensor("FloatStorage", "s", 24, 24, (0, 5), (5, 1)),  # empty, offset at the end
    }
    got = load_state_dict(zip_checkpoint(tmp_path / "v.pt", pickle_bytes(obj), {"s": base.tobytes()}))
    assert np.array_equal(got["t"], base[1:13].reshape(4, 3).T)
    assert np.array_equal(got["e"], np.tile(base[5:11:2], (2, 1)))
    assert got["z"].shape == () and got["z"] == 23
    assert got["n"].shape == (0, 5)
    assert all(a.flags.c_contiguous and a.flags.owndata for a in got.values())


# --------------------------------------------------------------------------------------------
# Bad inputs: one FastbuildError line that names the file and says what is wrong
# --------------------------------------------------------------------------------------------


def _pt_from_pickle(path, obj, records=None):
    return zip_checkpoint(path, pickle_bytes(obj), records if records is not None else {})


def _truncated(path, src: Path, frac=0.5):
    raw = src.read_bytes()
    path.write_bytes(raw[: int(len(raw) * frac)])
    return path


def _pt_flipped_record(path):
    write_state_dict(path, small_network_sd())
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("archive/data/0")
    data_at = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[data_at + 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def _pt_network_with(path, change):
    sd = small_network_sd()
    change(sd)
    return write_state_dict(path, sd)


def _h5(path, change=None):
    write_fake_keras_h5(path, small_network_sd(seed=3))
    if change is not None:
        with h5py.File(path, "r+") as f:
            change(f)
    return path


def _set_config(f, edit):
    cfg = json.loads(f.attrs["model_config"])
    edit(cfg["config"]["layers"])
    f.attrs["model_config"] = json.dumps(cfg).encode()


def _layer(layers, name):
    return next(la for la in layers if la["name"] == name)


def _pt(**kw):
    return lambda p: one_tensor_pt(p, **kw)


# id -> (file suffix, writer of the bad file, regex the message must match after the file name)
CASES = {
    "pt-negative-stride": (".pt", _pt(size=(2, 4), stride=(-(2**40), 1)), r"negative stride \(-1099511627776, 1\)"),
    "pt-negative-stride-in-bounds": (".pt", _pt(stride=(-4, 1), offset=8), r"negative stride"),
    "pt-negative-offset": (".pt", _pt(offset=-3), r"storage offset outside the storage"),
    "pt-negative-size": (".pt", _pt(size=(-3, 4)), r"negative size"),
    "pt-offset-past-end": (".pt", _pt(offset=13, size=(), stride=()), r"storage offset outside"),
    "pt-extent-past-end": (".pt", _pt(stride=(5, 1)), r"past the end of its 12 elements"),
    "pt-stride-past-end": (".pt", _pt(size=(2, 1), stride=(2**62, 2**70)), r"past the end"),
    "pt-size-overflow": (".pt", _pt(size=(2**32, 2**32), stride=(0, 0)), r"do not fit a storage"),
    "pt-huge-expanded": (".pt", _pt(size=(4096, 8192), stride=(0, 0)), r"do not fit a storage of 12"),
    "pt-many-expanded": (".pt", lambda p: _pt_from_pickle(
        p, {f"w{i}": tensor("ByteStorage", "0", 1, 0, (2**24,), (0,)) for i in range(3)}, {"0": b"\1"}),
                         r"its tensors hold over 33554432 elements, far more than its storages"),
    "pt-rank-mismatch": (".pt", _pt(size=(3, 4), stride=(4,)), r"sizes and strides differ"),
    "pt-too-many-dims": (".pt", _pt(size=(1,) * 40, stride=(1,) * 40), r"40 dimensions"),
    "pt-float-stride": (".pt", _pt(stride=(4.0, 1)), r"stride is not an integer"),
    "pt-string-offset": (".pt", _pt(offset="0"), r"offset is not an integer"),
    "pt-unknown-dtype": (".pt", _pt(stype="BFloat16Storage"), r"unsupported tensor type torch\.BFloat16Storage"),
    "pt-unknown-global": (".pt", lambda p: _pt_from_pickle(p, {"w": Call(Global("os", "system"), ("id",))}),
                          r"refusing to load checkpoint: it references os\.system"),
    "pt-record-missing": (".pt", lambda p: _pt_from_pickle(p, {"w": tensor("FloatStorage", "7", 2, 0, (2,), (1,))}),
                          r"lacks storage record 7"),
    "pt-record-truncated": (".pt", _pt(raw=b"\0" * 20), r"storage record 0 is truncated \(20 bytes, 48 declared\)"),
    "pt-numel-negative": (".pt", _pt(numel=-5, raw=b""), r"storage 0 has a negative size"),
    "pt-record-crc": (".pt", _pt_flipped_record, r"truncated or corrupt checkpoint \(Bad CRC-32"),
    "pt-truncated": (".pt", lambda p: _truncated(p, write_state_dict(p.with_suffix(".ok"), small_network_sd())),
                     r"truncated or corrupt checkpoint: not a valid PyTorch zip checkpoint"),
    "pt-empty": (".pt", lambda p: _write(p, b""), r"empty file"),
    "pt-not-zip": (".pt", lambda p: _write(p, b"hello, world\n"), r"not a PyTorch zip checkpoint$"),
    "pt-legacy-format": (".pt", lambda p: _write(p, bytes.fromhex("80028a0a6cfc9c46f9206aa850192e")),
                         r"legacy torch\.save format is not supported"),
    "pt-no-data-pkl": (".pt", lambda p: _write(p, _zip_without_pkl()), r"expected exactly one <name>/data\.pkl"),
    "pt-garbage-pickle": (".pt", lambda p: zip_checkpoint(p, b"\x80\x02(X\xff\xff\xff\x7f", {}),
                          r"cannot read its pickle"),
    "pt-not-state-dict": (".pt", lambda p: _pt_from_pickle(p, [1, 2, 3]), r"not a state dict of tensors"),
    "pt-missing-tensor": (".pt", lambda p: _pt_network_with(p, lambda sd: sd.pop("final_conv.weight")),
                          r"not an OpenSpliceAI checkpoint \(missing final_conv\.weight\)"),
    "pt-wrong-shape": (".pt", lambda p: _pt_network_with(p, lambda sd: sd.update({"initial_conv.bias": np.ones(5)})),
                       r"initial_conv has weight shape \(4, 4, 1\) and bias shape \(5,\)"),
    "pt-nan-weights": (".pt", lambda p: _pt_network_with(p, lambda sd: sd["final_conv.bias"].__setitem__(0, np.nan)),
                       r"output convolution bias holds NaN"),
    "h5-missing-layer": (".h5", lambda p: _h5(p, lambda f: f["model_weights"].__delitem__("conv1d_3")),
                         r"no layer 'conv1d_3' \(not a SpliceAI weights file\?\)"),
    "h5-missing-weight": (".h5", lambda p: _h5(p, lambda f: f["model_weights/conv1d_3"].__delitem__("conv1d_3")),
                          r"layer 'conv1d_3' lacks its weight 'conv1d_3/kernel:0'"),
    "h5-no-weights-group": (".h5", lambda p: _h5(p, lambda f: f.__delitem__("model_weights")),
                            r"no model_weights group"),
    "h5-no-model-config": (".h5", lambda p: _h5(p, lambda f: f.attrs.__delitem__("model_config")),
                           r"not a Keras model file \(no model_config\)"),
    "h5-bad-model-config": (".h5", lambda p: _h5(p, lambda f: f.attrs.__setitem__("model_config", b"{oops")),
                            r"unreadable model_config"),
    "h5-layer-without-config": (".h5", lambda p: _h5(p, lambda f: _set_config(f, lambda ls: ls[3].pop("config"))),
                                r"not a SpliceAI weights file \(missing config\)"),
    "h5-bad-dilation": (".h5", lambda p: _h5(p, lambda f: _set_config(
        f, lambda ls: [_layer(ls, n)["config"].update(dilation_rate=[0]) for n in ("conv1d_3", "conv1d_4")])),
                        r"residual unit 0 has width 11 and dilation 0"),
    "h5-wrong-shape": (".h5", lambda p: _h5(p, lambda f: _replace(f, "model_weights/conv1d_3/conv1d_3/bias:0", 5)),
                       r"layer 'conv1d_3' has kernel shape \(11, 4, 4\) and bias shape \(5,\)"),
    "h5-truncated": (".h5", lambda p: _truncated(p, _h5(p.with_suffix(".ok.h5"))),
                     r"cannot read Keras model: truncated, corrupt or not an HDF5 file"),
    "h5-not-hdf5": (".h5", lambda p: _write(p, b"\x89HDF junk"), r"cannot read Keras model"),
    "h5-crashes-hdf5": (".h5", lambda p: _h5_crashing(p), r"."),
}
BAD_INPUTS = list(CASES)


def _h5_crashing(path):
    """A one-byte corruption (in an attribute header) of the fake .h5 that segfaults HDF5 2.0."""
    raw = bytearray(_h5(path).read_bytes())
    if raw[27790:27796] != b"_names" or raw[27801] != 1:
        pytest.skip("this h5py/HDF5 lays the file out differently: the known crashing byte is elsewhere")
    raw[27801] = 189
    return _write(path, bytes(raw))


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _replace(f, name, n):
    del f[name]
    f.create_dataset(name, data=np.ones(n, np.float32))


def _zip_without_pkl() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data/0", b"\0" * 8)
    return buf.getvalue()


def assert_one_line_naming(exc, path, pattern=None):
    """``exc`` is exactly a FastbuildError whose message is one line naming ``path``."""
    assert type(exc) is FastbuildError, repr(exc)
    msg = str(exc)
    assert "\n" not in msg and msg.strip() == msg and msg, repr(msg)
    assert str(path) in msg, (msg, str(path))
    if pattern is not None:
        assert re.search(pattern, msg), (msg, pattern)


@pytest.mark.parametrize("kind", BAD_INPUTS, ids=BAD_INPUTS)
def test_bad_model_file(worker, tmp_path, kind):
    suffix, write, pattern = CASES[kind]
    path = tmp_path / f"model{suffix}"
    write(path)
    if suffix == ".pt":  # first in the worker: a crash there fails this test instead of killing pytest
        result = worker.load(path)
        assert result["kind"] == "error" or (result["kind"] == "ok" and result["model"] != "ok"), result
    with pytest.raises(FastbuildError) as info:
        load_model(str(path))
    assert_one_line_naming(info.value, path, pattern)


def test_h5_reader_crash_is_an_error(tmp_path, monkeypatch):
    """.h5 files are read in a child process: a crash there (HDF5 has segfaults on corrupt files)
    becomes a FastbuildError line."""
    from fastbuild.basemodel import models

    path = _h5(tmp_path / "model.h5")
    monkeypatch.setattr(models, "_H5_CHILD_CODE", "import ctypes; ctypes.string_at(0)")
    with pytest.raises(FastbuildError) as info:
        load_model(str(path))
    assert_one_line_naming(info.value, path, r"the HDF5 library crashed reading this file \(signal 11\)")


def test_bad_inputs_list_matches_cases():
    assert BAD_INPUTS == list(CASES) and len(set(BAD_INPUTS)) == len(BAD_INPUTS)
    assert {"pt-negative-stride", "pt-truncated", "h5-missing-layer"} <= set(BAD_INPUTS)


CLI_INPUTS = ["pt-negative-stride", "pt-truncated"]


def test_cli_predict_with_corrupt_checkpoints(tmp_path):
    """``fastbuild predict --model bad.pt`` (demo inputs) exits 2 with one error line, no traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "FASTBUILD_CACHE": str(tmp_path / "cache")}
    runs = {}
    for kind in CLI_INPUTS:  # both at once: each start of the command line takes a few seconds
        path = tmp_path / kind / "model.pt"
        path.parent.mkdir()
        CASES[kind][1](path)
        cmd = [sys.executable, "-m", "fastbuild", "predict", "--model", str(path),
               "--scores", str(path.parent / "scores"), "--no-progress"]
        runs[kind] = (path, subprocess.Popen(cmd, cwd=path.parent, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True))
    for kind, (path, proc) in runs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (kind, proc.returncode, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, (kind, err)
        assert lines[0].startswith("fastbuild: error: ") and str(path) in lines[0], (kind, lines)
        assert re.search(CASES[kind][2], lines[0]) and out == "", (kind, lines, out)


# --------------------------------------------------------------------------------------------
# Fuzzing, in a worker process that a crash cannot take pytest down with
# --------------------------------------------------------------------------------------------

_WORKER = r"""
import faulthandler, hashlib, json, sys
faulthandler.enable()
import numpy as np
from fastbuild.errors import FastbuildError
from fastbuild.basemodel.torchfile import load_state_dict
from fastbuild.basemodel.models import load_openspliceai
OK = {"float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"}

def check(path):
    try:
        sd = load_state_dict(path)
    except FastbuildError as exc:
        return {"kind": "error", "message": str(exc)}
    arrays = {}
    for k, v in sd.items():
        if not (isinstance(k, str) and isinstance(v, np.ndarray) and v.flags.c_contiguous and v.dtype.name in OK):
            return {"kind": "bad-array", "detail": repr(k)[:80]}
        arrays[k] = [list(v.shape), v.dtype.name, hashlib.sha256(v.tobytes()).hexdigest()]
    try:
        load_openspliceai(path)
        model = "ok"
    except FastbuildError as exc:
        model = str(exc)
    return {"kind": "ok", "arrays": arrays, "model": model}

for line in sys.stdin:
    path = line.rstrip("\n")
    if path == "__segfault__":
        import ctypes
        ctypes.string_at(0)
    try:
        out = check(path)
    except BaseException as exc:
        out = {"kind": "crash", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(out), flush=True)
"""


class LoaderWorker:
    """A long-lived subprocess that loads one file per request; restarted when it dies."""

    def __init__(self):
        self.proc = None

    def _start(self):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.err = tempfile.TemporaryFile("w+")  # not a pipe: a chatty worker cannot block on it
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err, text=True, env=env, cwd=str(REPO),
        )

    def load(self, path, timeout=30.0) -> dict:
        """The worker's verdict on ``path``; {"kind": "died", ...} when the interpreter crashed."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        if not ready:
            self.proc.kill()
        rc = self.proc.wait()
        self.err.seek(0)
        err = " ".join(self.err.read().split())[-1500:]
        self.err.close()
        self.proc = None
        return {"kind": "died", "detail": f"worker exit status {rc} (hung or crashed) on {path}: {err}"}

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    w = LoaderWorker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@functools.cache
def base_parts() -> tuple[dict, bytes]:
    """(storage records, data.pkl) of the small network the fuzz tests mutate."""
    obj, records = state_dict_parts(small_network_sd(seed=11))
    return records, pickle_bytes(obj)


def assert_safe(result, path):
    """The loader either returned valid arrays or raised one FastbuildError line naming the file."""
    assert result["kind"] in ("ok", "error"), result
    messages = [result["message"]] if result["kind"] == "error" else []
    if result["kind"] == "ok" and result["model"] != "ok":
        messages.append(result["model"])
    for msg in messages:
        assert "\n" not in msg and str(path) in msg, msg


def test_worker_reports_a_crash_instead_of_dying(worker, fuzz_dir):
    result = worker.load("__segfault__")
    assert result["kind"] == "died" and "exit status -11" in result["detail"]
    ok = worker.load(write_state_dict(fuzz_dir / "fine.pt", small_network_sd()))
    assert ok["kind"] == "ok" and ok["model"] == "ok", ok


FUZZ = settings(
    max_examples=40, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
edits = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8)


def _apply(data: bytes, changes, cut) -> bytes:
    buf = bytearray(data)
    for where, value in changes:
        buf[int(where * len(buf))] = value
    return bytes(buf[: max(0, int(cut * len(buf)))] if cut is not None else buf)


@FUZZ
@given(changes=edits, cut=st.none() | st.floats(0, 1))
def test_fuzz_pickle_bytes(worker, fuzz_dir, changes, cut):
    """Overwritten bytes and truncation of data.pkl (re-zipped, so the zip itself is valid)."""
    records, pkl = base_parts()
    path = zip_checkpoint(fuzz_dir / "pkl.pt", _apply(pkl, changes, cut), records)
    assert_safe(worker.load(path), path)


@FUZZ
@given(key=st.integers(0, 40), changes=edits, cut=st.none() | st.floats(0, 1.5), drop=st.booleans())
def test_fuzz_storage_records(worker, fuzz_dir, key, changes, cut, drop):
    """Overwritten, truncated, extended or missing storage records (CRCs kept valid)."""
    records, pkl = base_parts()
    records = dict(records)
    k = str(key % len(records))
    raw = records.pop(k)
    if not drop:
        raw = _apply(raw, changes, None)
        records[k] = raw[: int(cut * len(raw))] if cut is not None and cut < 1 else raw + b"\x7f" * int(8 * (cut or 0))
    path = zip_checkpoint(fuzz_dir / "rec.pt", pkl, records)
    assert_safe(worker.load(path), path)


@FUZZ
@given(changes=edits, cut=st.none() | st.floats(0, 1))
def test_fuzz_archive_bytes(worker, fuzz_dir, changes, cut):
    """Bytes overwritten anywhere in the .pt file itself (zip headers, CRCs, data) and truncation."""
    records, pkl = base_parts()
    good = zip_checkpoint(fuzz_dir / "good.pt", pkl, records).read_bytes()
    path = fuzz_dir / "raw.pt"
    path.write_bytes(_apply(good, changes, cut))
    assert_safe(worker.load(path), path)


ints = st.one_of(
    st.integers(0, 5), st.integers(-3, -1),
    st.sampled_from([2**24 + 1, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64 + 3, -(2**63)]),
)
stypes = st.sampled_from([*TYPE_OF_DTYPE.values(), "BFloat16Storage", "UntypedStorage"])


def expected_tensor(stype, numel, raw_len, offset, size, stride):
    """The reference: the array the loader must return, or None when it must refuse."""
    if stype not in ITEMSIZE or numel < 0 or raw_len != numel * ITEMSIZE[stype] or len(size) != len(stride):
        return None
    if offset < 0 or any(v < 0 for v in (*size, *stride)) or offset > numel:
        return None
    n = math.prod(size)
    if n > max(numel, 2**24) or any(v > max(numel, 2**24) for v in size):
        return None
    if n and offset + sum((a - 1) * s for a, s in zip(size, stride, strict=True)) >= numel:
        return None
    data = storage_values(stype, numel)
    idx = np.zeros(size, dtype=np.int64) + offset
    for axis, (a, s) in enumerate(zip(size, stride, strict=True)):
        shape = [1] * len(size)
        shape[axis] = a
        idx = idx + (np.arange(a, dtype=np.int64) * s).reshape(shape)
    return data[idx.reshape(-1)].reshape(size) if n else np.zeros(size, data.dtype)


def storage_values(stype, n) -> np.ndarray:
    """The elements the fuzzed storage records hold: distinct small values (0/1 for bool)."""
    names = [d for d, t in TYPE_OF_DTYPE.items() if t == stype]
    dtype = np.dtype(names[0] if names else np.uint8)
    return (np.arange(n) % (2 if dtype == np.bool_ else 97)).astype(dtype.newbyteorder("<"))


@FUZZ
@given(
    stype=stypes, numel=st.integers(0, 30) | ints, extra=st.sampled_from([0, 0, 0, -1, 1]), offset=ints,
    size=st.lists(ints, max_size=3).map(tuple), stride=st.lists(ints, max_size=3).map(tuple),
)
def test_fuzz_tensor_fields(worker, fuzz_dir, stype, numel, extra, offset, size, stride):
    """Crafted storage types, sizes, offsets, sizes and strides in the pickle (vs. a reference)."""
    item = ITEMSIZE.get(stype, 4)
    nbytes = max(0, min(numel, 64) * item + extra)
    raw = (storage_values(stype, 64).tobytes() + b"\0")[:nbytes]
    path = one_tensor_pt(fuzz_dir / "fields.pt", stype, numel, offset, size, stride, raw=raw)
    result = worker.load(path)
    assert_safe(result, path)
    want = expected_tensor(stype, numel, nbytes, offset, size, stride)
    if want is None:
        assert result["kind"] == "error", (result, stype, numel, nbytes, offset, size, stride)
        return
    assert result["kind"] == "ok", result
    native = want.astype(want.dtype.newbyteorder("="))
    assert result["arrays"]["w"] == [list(size), native.dtype.name, hashlib.sha256(native.tobytes()).hexdigest()]
