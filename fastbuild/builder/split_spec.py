"""The ``--split`` spec, parsed: :class:`SplitSpec` and :func:`parse_split` (see :mod:`.splits` for the rules).

Light on purpose (no polars): :class:`~fastbuild.builder.config.BuildConfig` checks ``--split``
with it before anything else is imported. Applying a spec to genes is :mod:`.splits`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastbuild.checks import INT64_MAX
from fastbuild.errors import FastbuildError
from fastbuild.files import check_input_file

UNASSIGNED = "unassigned"
"""Split of a gene that no rule of the spec places (another contig, outside every region,
missing from the file)."""
REST = "rest"
"""Keyword for 'every contig / position not listed' in ``chrom:`` and ``region:`` specs."""
KINDS = ("none", "spliceai", "chrom", "region", "file")
MAX_NAME = 64
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_COORD_RE = re.compile(r"(\d+)-(\d+)")
SPEC_HINT = ("use none, spliceai, chrom:test=chr1,chr3;train=rest, region:test=CHROM:START-END;train=rest "
             "or file:PATH")

SPLICEAI_TEST = ("chr1", "chr3", "chr5", "chr7", "chr9")
SPLICEAI_TRAIN = ("chr2", "chr4", "chr6", "chr8", *(f"chr{i}" for i in range(10, 23)), "chrX", "chrY")


def contig_key(name: str) -> str:
    """The name contigs are matched by: lower case, without a leading ``chr`` (``Chr1`` -> ``1``)."""
    key = name.strip().lower()
    return key[3:] if key.startswith("chr") and len(key) > 3 else key


BASE_MODEL_TRAINING: dict[str, frozenset[str] | None] = {
    "spliceai": frozenset(contig_key(c) for c in SPLICEAI_TRAIN),
    "openspliceai": None,
}
"""Base model name -> keys (:func:`contig_key`) of the chromosomes its documentation says it
was trained on; ``None``: not documented.

* ``spliceai``: chr2, 4, 6, 8, 10-22, X, Y (Jaganathan et al. 2019, Cell; chr1, 3, 5, 7, 9
  held out for testing). Human GRCh37 names: the match is by name, so a non-human genome whose
  contigs are called ``chr2`` ... also matches.
* ``openspliceai`` (every published OpenSpliceAI model: MANE human, mouse, zebrafish, honeybee,
  Arabidopsis): unknown. Its ``create-data`` has a ``human`` split method equal to SpliceAI's and
  a ``random`` one (the default for other species), but the documentation of the published
  checkpoints does not say which split trained them.
"""


@dataclass(frozen=True)
class SplitSpec:
    """A parsed ``--split`` value (see the module docstring for the grammar).

    Attributes
    ----------
    kind : {'none', 'spliceai', 'chrom', 'region', 'file'}
    clauses : tuple
        ``(split, items)`` in the order given: items are contig names (``spliceai``, ``chrom``)
        or ``(chrom, start, end)`` regions (``region``).
    rest : str or None
        Split of everything not listed; ``None``: ``unassigned``.
    path : str or None
        The table of a ``file:`` spec.
    """

    kind: str = "none"
    clauses: tuple = ()
    rest: str | None = None
    path: str | None = None

    @property
    def text(self) -> str:
        """The canonical spec text (``parse_split(spec.text) == spec``)."""
        if self.kind in ("none", "spliceai"):
            return self.kind
        if self.kind == "file":
            return f"file:{self.path}"
        fmt = (lambda r: f"{r[0]}:{r[1]}-{r[2]}") if self.kind == "region" else str
        parts = [f"{name}={','.join(fmt(i) for i in items)}" for name, items in self.clauses]
        return f"{self.kind}:" + ";".join(parts + ([f"{self.rest}={REST}"] if self.rest else []))

    def __str__(self) -> str:
        return self.text

    @property
    def names(self) -> tuple[str, ...]:
        """Split names the spec can give (``unassigned`` excluded; a file's are known once read)."""
        return tuple(dict.fromkeys([n for n, _ in self.clauses] + ([self.rest] if self.rest else [])))


NONE = SplitSpec()
SPLICEAI = SplitSpec("spliceai", (("test", SPLICEAI_TEST), ("train", SPLICEAI_TRAIN)))


# ---------------------------------------------------------------------------- parsing


def _bad(text: str, why: str) -> FastbuildError:
    return FastbuildError(f"--split {text!r}: {why}")


def check_split_name(name: str, text: str = "") -> str:
    """``name`` must be an identifier (a letter, then letters, digits, ``_``, ``-``), not ``rest``."""
    if not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise _bad(text or name, f"split name {name!r} is not an identifier (a letter, then letters, digits, "
                                 f"_ or -; at most {MAX_NAME} characters)")
    if name.lower() == REST:
        raise _bad(text or name, f"{REST!r} is the keyword for 'everything not listed', not a split name; "
                                 f"write e.g. train={REST}")
    return name


def parse_split(text: str) -> SplitSpec:
    """Parse a ``--split`` value.

    Parameters
    ----------
    text : str
        ``none``, ``spliceai``, ``chrom:...``, ``region:...`` or ``file:PATH`` (module docstring).

    Returns
    -------
    SplitSpec

    Raises
    ------
    FastbuildError
        One line naming the bad part of the spec (unknown kind, bad split name, empty or
        repeated list, bad coordinates, overlapping regions of two splits, missing file ...).
    """
    if not isinstance(text, str):
        raise FastbuildError(f"--split must be text, got {text!r}; {SPEC_HINT}")
    spec = text.strip()
    if spec.lower() in ("none", "spliceai"):
        return NONE if spec.lower() == "none" else SPLICEAI
    kind, sep, body = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS[2:]:
        raise _bad(text, f"unknown kind of split; {SPEC_HINT}")
    if kind == "file":
        path = body.strip()
        if not path:
            raise _bad(text, "no file given; write file:PATH (a TSV/CSV with gene_id and split columns)")
        check_input_file(path, "--split file")
        return SplitSpec("file", path=path)
    clauses, rest = _clauses(text, body, _region if kind == "region" else _contig)
    if kind == "region":
        _check_region_overlaps(text, clauses)
    else:
        _check_unique([(contig_key(c), c) for _, items in clauses for c in items], text, "contig")
    return SplitSpec(kind, clauses, rest)


def _clauses(text: str, body: str, item):
    """``SPLIT=ITEMS;...`` -> ((split, items), ...), rest split (or None)."""
    clauses, rest, seen = [], None, set()
    parts = [p.strip() for p in body.split(";")]
    while parts and not parts[-1]:
        parts.pop()  # a trailing ';' is harmless
    if not parts:
        raise _bad(text, "no SPLIT=LIST clause; write e.g. chrom:test=chr1,chr3;train=rest")
    for part in parts:
        name, eq, value = (s.strip() for s in part.partition("="))
        if not part:
            raise _bad(text, "an empty clause between two ';'")
        if not eq:
            raise _bad(text, f"clause {part!r} has no '='; write SPLIT=LIST")
        check_split_name(name, text)
        if name in seen:
            raise _bad(text, f"split {name!r} is given twice; list all its items in one clause")
        seen.add(name)
        items = [s.strip() for s in value.split(",")]
        if items == [REST]:
            if rest is not None:
                raise _bad(text, f"{REST!r} is given twice ({rest}={REST} and {name}={REST}); keep one")
            rest = name
            continue
        if REST in (s.lower() for s in items):
            raise _bad(text, f"{REST!r} stands alone: write {name}={REST} as its own clause")
        if "" in items:
            raise _bad(text, f"split {name!r} has an empty item in {value!r}")
        clauses.append((name, tuple(item(text, s) for s in items)))
    return tuple(clauses), rest


def _contig(text: str, name: str) -> str:
    return name


def _region(text: str, item: str) -> tuple[str, int, int]:
    """``CHROM:START-END`` (1-based inclusive) -> (chrom, start, end)."""
    chrom, sep, coords = item.rpartition(":")
    m = _COORD_RE.fullmatch(coords.strip())
    if not sep or not chrom.strip() or not m:
        raise _bad(text, f"region {item!r} is not CHROM:START-END (1-based inclusive, digits only)")
    start, end = int(m.group(1)), int(m.group(2))
    if start < 1 or end < start or end > INT64_MAX:
        raise _bad(text, f"region {item!r} needs 1 <= START <= END <= {INT64_MAX} (1-based inclusive)")
    return chrom.strip(), start, end


def _check_unique(keyed: list[tuple[str, str]], text: str, what: str) -> None:
    seen: dict[str, str] = {}
    for key, name in keyed:
        if key in seen:
            raise _bad(text, f"{what} {name!r} is listed twice (as {seen[key]!r}; names match case-insensitively "
                             "with or without 'chr'); list it once")
        seen[key] = name


def _check_region_overlaps(text: str, clauses) -> None:
    """Regions of two different splits must not share a base (same-split overlaps are fine)."""
    regions = sorted((contig_key(c), s, e, name, f"{c}:{s}-{e}") for name, items in clauses for c, s, e in items)
    pairs = ((a, b) for i, a in enumerate(regions) for b in regions[i + 1:])  # a handful, typed by hand
    for a, b in pairs:
        if a[0] == b[0] and b[1] <= a[2] and a[3] != b[3]:
            raise _bad(text, f"regions {a[4]} ({a[3]}) and {b[4]} ({b[3]}) overlap; a position must belong "
                             "to one split")


# ---------------------------------------------------------------------------- clusters
