"""Read PyTorch zip checkpoints (state dicts) without PyTorch.

A ``torch.save`` file is a zip archive holding ``<name>/data.pkl`` (a pickle whose tensors are
persistent references to raw storages) and ``<name>/data/<key>`` (the little-endian raw bytes of
each storage). We unpickle with a :class:`pickle.Unpickler` subclass whose ``find_class`` allows
only the few globals a state dict needs (the tensor-rebuild functions, the storage types and
``collections.OrderedDict``) and refuses everything else, so a malicious checkpoint cannot run
code. Tensors come back as numpy arrays (copies, C-contiguous).

A checkpoint is untrusted input. Before any memory is touched, every tensor's storage offset,
sizes and strides are checked against the storage it views (no negative values, no element past
the end of the storage, no element count beyond what the storage can plausibly hold), and every
storage record against its declared type and size. Whatever is wrong with a file is reported as
one :class:`~fastbuild.errors.FastbuildError` line that names the file.
"""

from __future__ import annotations

import collections
import math
import pickle
import zipfile
from dataclasses import dataclass
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

_MAX_NDIM = 32  # numpy's lowest limit on the number of dimensions
# a tensor may hold more elements than its storage only by repeating them (stride 0, overlapping
# strides); such an expanded tensor may have at most this many elements
_MAX_EXPANDED = 1 << 24
_ZIP_MAGIC = b"PK\x03\x04"
# legacy (pre-1.6, non-zip) torch.save files start with a protocol-2 pickle of this magic number
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class _Corrupt(Exception):
    """A structural defect of a checkpoint; :func:`load_state_dict` adds the file name."""


class _StorageType(str):
    """Stand-in for ``torch.<X>Storage``: an immutable name (a pickle cannot alter it)."""

    __slots__ = ()

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of this storage type."""
        return np.dtype(_STORAGE_DTYPES[str(self)])


@dataclass(frozen=True, slots=True)
class _Storage:
    """One storage record read from the archive (immutable, so a pickle cannot swap its data)."""

    key: str
    data: np.ndarray  # 1-D, exactly the declared number of elements


def _one_line(text) -> str:
    """``text`` (an exception or any object) as one short line."""
    s = " ".join(str(text).split())
    return s if len(s) <= 200 else s[:197] + "..."


def _as_int(value, what: str) -> int:
    """``value`` as a Python int; refuse anything else (bools, floats, strings, ...)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Corrupt(f"{what} is not an integer ({_one_line(repr(value))[:40]})")
    return value


def _int_tuple(values, what: str) -> tuple:
    """A tensor's sizes or strides: a short tuple/list of non-negative ints."""
    if not isinstance(values, (tuple, list)):
        raise _Corrupt(f"tensor {what} is not a tuple ({_one_line(repr(values))[:40]})")
    if len(values) > _MAX_NDIM:
        raise _Corrupt(f"tensor has {len(values)} dimensions (at most {_MAX_NDIM} are supported)")
    out = tuple(_as_int(v, f"a tensor {what}") for v in values)
    if any(v < 0 for v in out):
        raise _Corrupt(f"tensor has a negative {what} {out}")
    return out


def _checked_layout(storage, storage_offset, size, stride) -> tuple:
    """Validate a tensor's layout against its storage; return (offset, size, stride, numel).

    Every value comes from the untrusted pickle, so all of them are checked (types, signs, the
    element count, the last element reached) before any view of the storage is made.
    """
    if not isinstance(storage, _Storage):
        raise _Corrupt("a tensor is not backed by a storage record")
    data = storage.data
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    offset = _as_int(storage_offset, "a tensor's storage offset")
    where = f"tensor (offset {offset}, size {size}, stride {stride}) of storage {storage.key}"
    if len(size) != len(stride):
        raise _Corrupt(f"{where}: sizes and strides differ in number")
    if offset < 0 or offset > data.size:
        raise _Corrupt(f"{where}: storage offset outside the storage of {data.size} elements")
    limit = max(data.size, _MAX_EXPANDED)
    numel = math.prod(size)  # exact (Python ints): no overflow
    if numel > limit or any(n > limit for n in size):
        raise _Corrupt(f"{where}: {numel} elements do not fit a storage of {data.size} elements")
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= data.size:
            raise _Corrupt(f"{where}: reaches element {last}, past the end of its {data.size} elements")
    return offset, size, stride, numel


def _materialize(data: np.ndarray, offset: int, size: tuple, stride: tuple, numel: int) -> np.ndarray:
    """A C-contiguous copy of the (checked) strided view of ``data``."""
    if numel == 0:
        return np.zeros(size, dtype=data.dtype)
    if not size:
        return np.array(data[offset], dtype=data.dtype)
    item = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[offset:],
        shape=size,
        strides=tuple(s * item if n > 1 else 0 for n, s in zip(size, stride, strict=True)),
        writeable=False,
    )
    return np.array(view, dtype=data.dtype, order="C", copy=True)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_ignored):
    """numpy version of ``torch._utils._rebuild_parameter``: the tensor itself."""
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler of ``data.pkl`` that builds only state-dict objects and reads storages lazily."""

    def __init__(self, fileobj, zf: zipfile.ZipFile, prefix: str, source: str):
        super().__init__(fileobj)
        self._zf = zf
        self._prefix = prefix
        self._source = source
        self._storages: dict[str, _Storage] = {}
        self._stored = 0  # elements of all storages read
        self._built = 0  # elements of all tensors built

    def find_class(self, module, name):
        """Allow only the globals of a plain state dict."""
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and isinstance(name, str) and name.endswith("Storage"):
            raise FastbuildError(
                f"{self._source}: unsupported tensor type torch.{_one_line(name)[:40]} in the checkpoint "
                "(float, integer and bool tensors are supported)"
            )
        raise FastbuildError(
            f"{self._source}: refusing to load checkpoint: it references "
            f"{_one_line(module)[:60]}.{_one_line(name)[:60]}, which is not part of a plain PyTorch state dict"
        )

    def _rebuild_tensor(self, storage, storage_offset, size, stride, *_ignored):
        """numpy version of ``torch._utils._rebuild_tensor_v2`` (requires_grad etc. ignored).

        Besides each tensor's own checks, the tensors of one file together may hold at most
        four times the elements of its storages (plus one expanded tensor's worth), so that a
        small crafted file cannot make many large expanded copies of one tiny storage.
        """
        offset, size, stride, numel = _checked_layout(storage, storage_offset, size, stride)
        self._built += numel
        if self._built > 4 * self._stored + _MAX_EXPANDED:
            raise _Corrupt(f"its tensors hold over {self._built} elements, far more than its storages")
        return _materialize(storage.data, offset, size, stride, numel)

    def persistent_load(self, pid):
        """Resolve a ``('storage', type, key, location, numel)`` record to its checked storage."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _Corrupt(f"unsupported persistent record {_one_line(repr(pid))[:60]}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise _Corrupt(f"unknown storage type {_one_line(repr(stype))[:40]}")
        if not isinstance(key, str) or not key:
            raise _Corrupt(f"bad storage key {_one_line(repr(key))[:40]}")
        numel = _as_int(numel, f"the size of storage {key}")
        if numel < 0:
            raise _Corrupt(f"storage {key} has a negative size ({numel})")
        cached = self._storages.get(key)
        if cached is None:
            cached = self._storages[key] = _Storage(key, self._read_storage(key, stype.dtype, numel))
            self._stored += numel
        elif cached.data.dtype != stype.dtype or cached.data.size != numel:
            raise _Corrupt(f"storage {key} is declared twice with different types or sizes")
        return cached

    def _read_storage(self, key: str, dtype: np.dtype, numel: int) -> np.ndarray:
        """The raw bytes of record ``key`` as ``numel`` elements of ``dtype`` (checked first)."""
        name = f"{self._prefix}data/{key}"
        try:
            info = self._zf.getinfo(name)
        except KeyError:
            raise _Corrupt(f"the archive lacks storage record {key}") from None
        need = numel * dtype.itemsize
        if info.file_size != need:
            state = "is truncated" if info.file_size < need else "is larger than declared"
            raise _Corrupt(f"storage record {key} {state} ({info.file_size} bytes, {need} declared)")
        raw = self._zf.read(name)  # checks the record's CRC
        if len(raw) != need:
            raise _Corrupt(f"storage record {key} is truncated ({len(raw)} bytes, {need} declared)")
        if dtype == np.bool_ and need and np.frombuffer(raw, np.uint8).max() > 1:
            raise _Corrupt(f"bool storage record {key} holds values other than 0 and 1")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False)


def _not_a_zip(path: Path) -> FastbuildError:
    """The error for a file that is not a readable zip archive: say what it looks like."""
    with open(path, "rb") as fh:
        head = fh.read(len(_LEGACY_MAGIC))
    if not head:
        return FastbuildError(f"{path}: empty file, not a PyTorch zip checkpoint")
    if head.startswith(_ZIP_MAGIC) or _ZIP_MAGIC.startswith(head):
        return FastbuildError(
            f"{path}: truncated or corrupt checkpoint: not a valid PyTorch zip checkpoint "
            "(its zip directory is missing or damaged; download or save it again)"
        )
    if head == _LEGACY_MAGIC:
        return FastbuildError(
            f"{path}: not a PyTorch zip checkpoint: legacy torch.save format is not supported "
            "(save it again with PyTorch >= 1.6)"
        )
    return FastbuildError(f"{path}: not a PyTorch zip checkpoint")


def _unpickle_archive(path: Path, zf: zipfile.ZipFile):
    """Check the archive layout, then unpickle its ``data.pkl`` with the restricted unpickler."""
    names = zf.namelist()
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkls) != 1:
        raise _Corrupt(f"expected exactly one <name>/data.pkl in the archive, found {len(pkls)}")
    prefix = pkls[0][: -len("data.pkl")]
    byteorder = prefix + "byteorder"
    if byteorder in names and zf.read(byteorder).strip() not in (b"little", b""):
        raise FastbuildError(f"{path}: big-endian checkpoints are not supported")
    with zf.open(pkls[0]) as fh:
        return _RestrictedUnpickler(fh, zf, prefix, str(path)).load()


def _as_state_dict(obj, path: Path) -> collections.OrderedDict[str, np.ndarray]:
    """Unwrap ``{"state_dict": ...}`` / ``{"model_state_dict": ...}``; require name -> array."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()
    ):
        raise FastbuildError(f"{path}: checkpoint is not a state dict of tensors")
    return collections.OrderedDict(obj)


def load_state_dict(path) -> collections.OrderedDict[str, np.ndarray]:
    """Load a PyTorch zip checkpoint holding a state dict; return name -> numpy array.

    Parameters
    ----------
    path : str or Path
        A ``torch.save`` zip file of a bare state dict or of a dict with a ``state_dict`` /
        ``model_state_dict`` entry.

    Returns
    -------
    OrderedDict
        Tensor name -> C-contiguous numpy array (a copy).

    Raises
    ------
    FastbuildError
        One line naming ``path`` for anything that is not a readable plain state dict: a missing,
        empty, truncated or corrupt file, a legacy (non-zip) checkpoint, a reference to any other
        Python object, an unsupported tensor type, or a tensor that does not fit its storage.
    """
    path = Path(path)
    if not path.is_file():
        raise FastbuildError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise _not_a_zip(path)
    try:
        with zipfile.ZipFile(path) as zf:
            obj = _unpickle_archive(path, zf)
    except FastbuildError:
        raise
    except _Corrupt as exc:
        raise FastbuildError(f"{path}: corrupt checkpoint: {_one_line(exc)}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise FastbuildError(f"{path}: truncated or corrupt checkpoint ({_one_line(exc)})") from None
    except Exception as exc:  # malformed pickle (UnpicklingError, TypeError, MemoryError, ...)
        raise FastbuildError(f"{path}: corrupt checkpoint: cannot read its pickle ({_one_line(exc)})") from None
    return _as_state_dict(obj, path)
