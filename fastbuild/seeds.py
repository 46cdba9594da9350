"""Seeds: every random choice of a build derives from ``--seed`` and stable keys."""

from __future__ import annotations

import hashlib


def gene_seed(seed: int, *keys: str) -> int:
    """A 64-bit seed derived from the build seed and a gene (or transcript) id.

    Stable across runs, machines and Python versions (blake2b, not ``hash()``), so a gene's
    sampled rows never depend on batch size, worker count or interruption.
    """
    text = ":".join([str(seed), *keys]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
