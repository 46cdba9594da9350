"""Small facts about input files, in one place: checksums and gzip detection.

Used by the genome and annotation readers, the model loaders and the build's input
fingerprints.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIXES = (".gz", ".bgz")


def sha256_file(path, block: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes (plain gzip or bgzip)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def strip_gzip_suffix(name: str) -> str:
    """``genes.gtf.gz`` -> ``genes.gtf`` (``.gz`` / ``.bgz``); other names unchanged."""
    for suffix in GZIP_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_text(path):
    """Open a text file for reading, transparently decompressing gzip (UTF-8, bad bytes replaced)."""
    path = Path(path)
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")
