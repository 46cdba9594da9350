"""The embedded demo: a real 700-kb slice of Arabidopsis chr1 with its annotation and scores.

Regenerate the sequence and annotation with ``scripts/make_demo_data.py`` and the scores with
``scripts/make_demo_scores.py``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_dir() -> Path:
    """Folder of the embedded demo files inside the installed package."""
    return Path(str(resources.files("fastbuild") / "demo_data"))


def demo_fasta() -> Path:
    """The demo FASTA (header ``NC_003070.9:1-700000``: true chr1 coordinates)."""
    return demo_dir() / "demo.fa"


def demo_annotation() -> Path:
    """The demo RefSeq GTF (genes wholly inside the slice)."""
    return demo_dir() / "demo.gtf.gz"


def demo_scores() -> Path:
    """The demo score store (OpenSpliceAI Arabidopsis 10000nt ensemble)."""
    return demo_dir() / "scores"
