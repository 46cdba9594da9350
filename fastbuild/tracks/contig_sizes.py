"""Contig names and lengths of tracks: the genome FASTA's, and a track's checked against them."""

from __future__ import annotations

import json
from pathlib import Path

from fastbuild import demo
from fastbuild.contigs import canonical
from fastbuild.errors import FastbuildError
from fastbuild.genome import Genome

__all__ = ["check_ends", "genome_sizes", "match_contigs", "resolve_fasta"]


def resolve_fasta(fasta: str | None, reference: str | None, dataset: str | None = None) -> str:
    """The FASTA to take contigs from: ``--fasta``, the one ``--reference`` records, the one a
    dataset's ``build_info.json`` records, else the embedded demo's."""
    if fasta is not None:
        return fasta
    if reference is not None:
        from fastbuild.reference import prepared_fasta

        return prepared_fasta(reference)
    info = Path(dataset) / "build_info.json" if dataset is not None else None
    if info is not None and info.is_file():
        try:
            recorded = json.loads(info.read_text())["inputs"]["fasta"]
        except (OSError, ValueError, KeyError, TypeError):
            recorded = None
        if recorded and Path(recorded).is_file():
            return recorded
    return str(demo.demo_fasta())


def genome_sizes(fasta) -> dict[str, int]:
    """Contig name -> length (the last base the FASTA covers), in the FASTA's order."""
    with Genome(fasta) as genome:
        return dict(genome.contigs)


def match_contigs(track: dict[str, int | None], sizes: dict[str, int], what: str) -> dict[str, str]:
    """Map a track's contig names to the FASTA's, checking their lengths.

    Names match when equal or when their canonical forms agree (``chr1`` = ``1``, ``chrM`` = ``MT``).

    Parameters
    ----------
    track : dict
        The track's contig -> length (None where the track has no length, as a table).
    sizes : dict
        The FASTA's contig -> length.
    what : str
        The track, as the error names it (``bigWig donor.plus.bw``).

    Returns
    -------
    dict
        Track contig -> FASTA contig.

    Raises
    ------
    FastbuildError
        A contig the FASTA lacks, or one of another length.
    """
    by_canonical = {}
    for name in sizes:
        by_canonical.setdefault(canonical(name), name)
    out = {}
    for name, length in track.items():
        target = name if name in sizes else by_canonical.get(canonical(name))
        if target is None:
            shown = ", ".join(list(sizes)[:5]) + (" ..." if len(sizes) > 5 else "")
            raise FastbuildError(f"{what}: contig {name!r} is not in the genome FASTA (which has {shown}); "
                                 "give the FASTA the track was made on (--fasta)")
        if length is not None and int(length) != sizes[target]:
            raise FastbuildError(f"{what}: contig {name!r} is {int(length):,} bases long, but {sizes[target]:,} in "
                                 "the genome FASTA; the track was made on another assembly")
        out[name] = target
    return out


def check_ends(last: dict[str, int], sizes: dict[str, int], what: str) -> None:
    """FastbuildError when a contig's last position (``last``: FASTA contig -> 1-based position) passes its end."""
    for contig, end in last.items():
        if end > sizes[contig]:
            raise FastbuildError(f"{what}: position {contig}:{end:,} lies past the contig's end ({sizes[contig]:,} in "
                                 "the genome FASTA); give the FASTA the scores were made on (--fasta)")
