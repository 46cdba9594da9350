"""Contig-name reconciliation between the FASTA, the annotation and score stores.

Names match when they are equal, when an alias file maps one to the other, or when their
canonical forms agree: a leading ``chr`` is dropped and ``M`` is read as ``MT`` (so ``chr1``
matches ``1`` and ``chrM`` matches ``MT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastbuild.errors import FastbuildError
from fastbuild.files import read_text


def canonical(name: str) -> str:
    """Canonical form of a contig name: no ``chr`` prefix, ``M`` spelled ``MT``."""
    core = name[3:] if name.lower().startswith("chr") and len(name) > 3 else name
    return "MT" if core.upper() in ("M", "MT") else core


def read_alias_file(path) -> dict[str, str]:
    """Read a two-column alias file (whitespace or comma separated; ``#`` comments).

    Each line ``A B`` says that contig ``A`` in one input is contig ``B`` in another.

    Raises
    ------
    FastbuildError
        When the file is missing, a directory, not UTF-8 text, has a line without exactly
        two columns, gives one name two different aliases, or holds no pair at all.
    """
    path = Path(path)
    text = read_text(path, "chromosome alias file")
    aliases: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        if len(parts) != 2:
            raise FastbuildError(
                f"{path}:{lineno}: expected two columns (name alias), got {len(parts)}: {line!r}"
            )
        if aliases.get(parts[0], parts[1]) != parts[1]:
            raise FastbuildError(
                f"{path}:{lineno}: {parts[0]} is already an alias of {aliases[parts[0]]}, not also of {parts[1]}"
            )
        aliases[parts[0]] = parts[1]
    if not aliases:
        raise FastbuildError(f"chromosome alias file {path} lists no name pairs")
    return aliases


@dataclass(frozen=True)
class ContigMap:
    """Mapping of annotation contig names to FASTA contig names.

    Attributes
    ----------
    mapping : dict
        annotation name -> FASTA name, for every annotation contig that matched.
    unmatched_annotation, unmatched_fasta : tuple of str
        Names on each side that found no partner.
    """

    mapping: dict = field(default_factory=dict)
    unmatched_annotation: tuple = ()
    unmatched_fasta: tuple = ()


def reconcile(annotation_contigs, fasta_contigs, aliases: dict | None = None) -> ContigMap:
    """Match annotation contig names to FASTA contig names.

    Parameters
    ----------
    annotation_contigs, fasta_contigs : iterable of str
    aliases : dict, optional
        Extra pairs from :func:`read_alias_file`; used in both directions.

    Raises
    ------
    FastbuildError
        When no annotation contig matches any FASTA contig; the message names the unmatched
        contigs on each side.
    """
    fasta = list(dict.fromkeys(fasta_contigs))
    ann = list(dict.fromkeys(annotation_contigs))
    aliases = dict(aliases or {})
    both_ways = {**{v: k for k, v in aliases.items()}, **aliases}
    by_canonical: dict[str, str] = {}
    for name in fasta:
        by_canonical.setdefault(canonical(name), name)
    fasta_set = set(fasta)
    mapping: dict[str, str] = {}
    for name in ann:
        if name in fasta_set:
            mapping[name] = name
        elif both_ways.get(name) in fasta_set:
            mapping[name] = both_ways[name]
        elif canonical(both_ways.get(name, name)) in by_canonical:
            mapping[name] = by_canonical[canonical(both_ways.get(name, name))]
    used = set(mapping.values())
    result = ContigMap(
        mapping=mapping,
        unmatched_annotation=tuple(n for n in ann if n not in mapping),
        unmatched_fasta=tuple(n for n in fasta if n not in used),
    )
    if ann and not mapping:
        raise FastbuildError(
            "no annotation contig matches a FASTA contig: annotation has "
            f"{_show(result.unmatched_annotation)}, FASTA has {_show(result.unmatched_fasta)}; "
            "pass --chrom-alias FILE with two columns (annotation name, FASTA name)"
        )
    return result


def _show(names, limit: int = 6) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")
