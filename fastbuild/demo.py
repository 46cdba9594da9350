"""The embedded demo: a real 700-kb slice of Arabidopsis chr1 with its annotation and scores.

Regenerate the sequence and annotation with ``scripts/make_demo_data.py`` and the scores with
``scripts/make_demo_scores.py``.

The files live inside the installed package and are read-only at run time: nothing is ever
written beside them (an installed package must not write into its install folder; a leftover
file there would outlive ``pip uninstall`` and shadow a later editable install). The demo
FASTA's ``.fai`` index goes to the user cache (:func:`fastbuild.genome.default_cache_dir`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_dir() -> Path:
    """Folder of the embedded demo files inside the installed package (read-only: never write here)."""
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
