"""Rows (contig, strand, position, values) -> one bigWig per value column and strand group.

Shared by the dataset's column tracks and a meta-model's predictions; the rows are in memory
(a dataset's kept rows, a predictions file), grouped by contig as each file is written.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fastbuild.files import sha256_file
from fastbuild.tracks.contig_sizes import check_ends
from fastbuild.tracks.strands import groups, track_file, write_strand_track

__all__ = ["write_frame_tracks"]


def write_frame_tracks(rows: pl.DataFrame, names: list[str], out: Path, sizes: dict[str, int],
                       mode: str, what: str) -> tuple[list[dict], list[str]]:
    """Write ``NAME[.plus|.minus].bw`` for each value column ``NAME`` of ``rows``.

    Parameters
    ----------
    rows : polars.DataFrame
        Columns ``contig`` (FASTA names), ``strand`` (``+``/``-``), ``position`` (1-based) and
        the value columns ``names``; nulls are no data.
    names : list of str
    out : Path
    sizes : dict
        Contig -> length of the genome FASTA.
    mode : {'split', 'collapse'}
    what : str
        The source, as errors name it (``dataset DIR``).

    Returns
    -------
    (list of dict, list of str)
        A record per file written (file, name, strand, intervals, conflicts, sha256), and the
        files left out because no row had a value for them.
    """
    last = rows.group_by("contig").agg(pl.col("position").max())
    check_ends(dict(last.iter_rows()), sizes, what)
    files, empty = [], []
    for name in names:
        values = rows.select("contig", "strand", "position", pl.col(name).cast(pl.Float32)).drop_nulls(name)
        for strand, strands in groups(mode):
            part = values.filter(pl.col("strand").is_in(list(strands)))
            target = out / track_file(name, strand)
            if part.height == 0:
                empty.append(target.name)
                continue
            by_contig = {c: df for (c,), df in part.group_by(["contig"], maintain_order=True)}
            intervals, conflicts = write_strand_track(
                target, sizes, by_contig, name, lambda d, name=name: (d["position"].to_numpy(), d[name].to_numpy()))
            files.append({"file": target.name, "name": name, "strand": strand, "intervals": intervals,
                          "conflicts": conflicts, "sha256": sha256_file(target)})
    return files, empty
