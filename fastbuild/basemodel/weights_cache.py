"""Keras weights read once per machine: the contents of a SpliceAI .h5 file cached by its sha256.

Reading a SpliceAI .h5 file through h5py costs ~80 ms (about 200 small datasets), 0.4 s for the
ensemble, on every command that loads it, and files other than the installed package's are read
in a child process (another ~0.3 s). The contents (model config, weights, per-layer problems) are
stored packed (``models._contents_pack``: a JSON manifest and the arrays' bytes, no pickles) under
``<cache root>/weights/<sha256>.h5w``; the key is the .h5 file's own checksum, which loading
computes anyway for the model's provenance, so an edited file is never served stale. An entry
starts with the sha256 of what follows, checked on every read: a damaged or altered entry is
never used as weights (it is deleted and the file read again). Entries are written under a
temporary name of their own (host and process), fsynced and renamed. The cache root is the one
of the FASTA and kernel caches (``$FASTBUILD_CACHE_DIR``, else ``$FASTBUILD_CACHE``, else
``$XDG_CACHE_HOME/fastbuild``, else ``~/.cache/fastbuild``); its weights take ~3 MB per distinct
file (16 MB for SpliceAI's five). A cache that cannot be written or read is skipped: the file is
read as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from pathlib import Path

log = logging.getLogger("fastbuild")

__all__ = ["cached", "forget", "remember", "weights_cache_dir"]


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
    """The cached contents for a file of this checksum, or None (absent, unreadable, or failing its
    own checksum: then deleted)."""
    path = _entry(sha256)
    try:
        data = path.read_bytes() if path is not None else None
    except OSError:
        return None
    if data is None:
        return None
    if len(data) < 32 or hashlib.sha256(data[32:]).digest() != data[:32]:
        log.debug("weights cache entry %s fails its checksum; reading the file instead", path)
        forget(sha256)
        return None
    return data[32:]


def forget(sha256: str) -> None:
    """Delete the entry of this checksum (a damaged one), if any."""
    path = _entry(sha256)
    try:
        if path is not None:
            path.unlink()
    except OSError:
        pass


def remember(sha256: str, data: bytes) -> None:
    """Cache ``data`` for a file of this checksum (atomically; a failure only logs)."""
    path = _entry(sha256)
    if path is None:
        return
    tmp = path.with_name(f"{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(hashlib.sha256(data).digest())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("weights cache not written (%s): %s", path, exc)
        try:
            tmp.unlink()
        except OSError:
            pass
