"""Read PyTorch zip checkpoints (state dicts) without PyTorch.

A ``torch.save`` file is a zip archive holding ``<name>/data.pkl`` (a pickle whose tensors are
persistent references to raw storages) and ``<name>/data/<key>`` (the little-endian raw bytes of
each storage). We unpickle with a :class:`pickle.Unpickler` subclass whose ``find_class`` allows
only the few globals a state dict needs (the tensor-rebuild functions, the storage types and
``collections.OrderedDict``) and refuses everything else, so a malicious checkpoint cannot run
code. Tensors come back as numpy arrays (copies, C-contiguous).
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

from fastbuild.errors import FastbuildError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stand-in for ``torch.<X>Storage``: only carries the numpy dtype."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """numpy version of ``torch._utils._rebuild_tensor_v2`` (requires_grad etc. ignored)."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) == 0:
        return np.array(storage[storage_offset], dtype=storage.dtype)
    needed = storage_offset + 1 + sum((n - 1) * s for n, s in zip(size, stride, strict=False) if n > 0)
    if any(n == 0 for n in size):
        return np.zeros(size, dtype=storage.dtype)
    if needed > storage.size:
        raise FastbuildError("corrupt checkpoint: a tensor reaches past the end of its storage")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:],
        shape=size,
        strides=tuple(s * item for s in stride),
        writeable=False,
    )
    return np.ascontiguousarray(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_ignored):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fileobj, zf: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(fileobj)
        self._zf = zf
        self._prefix = prefix
        self._source = source
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise FastbuildError(
            f"{self._source}: refusing to load checkpoint: it references {module}.{name}, "
            "which is not part of a plain PyTorch state dict"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise FastbuildError(f"{self._source}: unsupported persistent record {pid!r:.60}")
        _, stype, key, _location, numel = pid[:5]
        if not isinstance(stype, _StorageType):
            raise FastbuildError(f"{self._source}: unsupported storage type in checkpoint")
        key = str(key)
        if key not in self._storages:
            try:
                raw = self._zf.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise FastbuildError(f"{self._source}: checkpoint lacks storage record {key}") from None
            arr = np.frombuffer(raw, dtype=stype.dtype.newbyteorder("<"))
            if arr.size < int(numel):
                raise FastbuildError(f"{self._source}: storage record {key} is truncated")
            self._storages[key] = arr.astype(stype.dtype, copy=False)
        return self._storages[key]


def load_state_dict(path) -> collections.OrderedDict[str, np.ndarray]:
    """Load a PyTorch zip checkpoint holding a state dict; return name -> numpy array.

    Accepts either a bare state dict or a dict with a ``state_dict``/``model_state_dict`` entry.
    Raises :class:`FastbuildError` for anything that is not a plain state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FastbuildError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise FastbuildError(
            f"{path}: not a PyTorch zip checkpoint (legacy torch.save format is not supported)"
        )
    with zipfile.ZipFile(path) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise FastbuildError(f"{path}: expected exactly one data.pkl in the checkpoint")
        prefix = pkls[0][: -len("data.pkl")]
        byteorder = prefix + "byteorder"
        if byteorder in zf.namelist() and zf.read(byteorder).strip() not in (b"little", b""):
            raise FastbuildError(f"{path}: big-endian checkpoints are not supported")
        with zf.open(pkls[0]) as fh:
            try:
                obj = _RestrictedUnpickler(fh, zf, prefix, str(path)).load()
            except FastbuildError:
                raise
            except Exception as exc:  # malformed pickle
                raise FastbuildError(f"{path}: cannot read checkpoint ({exc})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise FastbuildError(f"{path}: checkpoint is not a state dict of tensors")
    return collections.OrderedDict(obj)
