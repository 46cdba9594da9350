"""Keras weights read once per machine: the contents of a SpliceAI .h5 file cached by its sha256.

Reading a SpliceAI .h5 file through h5py costs ~80 ms (about 200 small datasets), 0.4 s for the
ensemble, on every command that loads it, and files other than the installed package's are read
in a child process (another ~0.3 s). The contents (model config, weights, per-layer problems) are
stored packed (``models._contents_pack``: a JSON manifest and the arrays' bytes, no pickles) under
``<cache root>/weights/<sha256>.h5w``, written under a temporary name and renamed; the key is the
file's own checksum, which loading computes anyway for the model's provenance, so an edited file
is never served stale. The cache root is the one of the FASTA and kernel caches (``$FASTBUILD_CACHE_DIR``, else
``~/.cache/fastbuild``); its weights take ~3 MB per distinct file (16 MB for SpliceAI's five).
A cache that cannot be written or read is skipped: the file is read as before.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("fastbuild")

__all__ = ["cached", "remember", "weights_cache_dir"]


def weights_cache_dir() -> Path | None:
    """``<cache root>/weights``, or None when no cache root is known."""
    from fastbuild_kernels import cache_root

    try:
        return cache_root() / "weights"
    except RuntimeError:
        return None


def _entry(sha256: str) -> Path | None:
    where = weights_cache_dir()
    return None if where is None or not sha256.isalnum() else where / f"{sha256}.h5w"


def cached(sha256: str) -> bytes | None:
    """The cached bytes for a file of this checksum, or None."""
    path = _entry(sha256)
    try:
        return path.read_bytes() if path is not None else None
    except OSError:
        return None


def remember(sha256: str, data: bytes) -> None:
    """Cache ``data`` for a file of this checksum (atomically; a failure only logs)."""
    path = _entry(sha256)
    if path is None:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("weights cache not written (%s): %s", path, exc)
        try:
            tmp.unlink()
        except OSError:
            pass
