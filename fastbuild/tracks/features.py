"""External tracks as build features (``fastbuild build --track NAME=PATH``), one gene at a time.

Each track ``NAME`` gives the dataset these float32 columns (role ``feature``, source ``track``):

* ``NAME``: the track's value at the row's position; null where the track has no data there;
* ``NAME_mean_up{W}`` / ``NAME_mean_down{W}`` for each ``W`` of :data:`TRACK_WINDOWS`: the mean
  of the track over the ``W`` bases 5' (up) or 3' (down) of the position, in transcript
  orientation (on the minus strand "up" is the higher genomic coordinates), the position itself
  left out. Upstream and downstream mean what they mean for the long-range score context
  (``donor_sum_up30`` ...): lower and higher offsets from the gene's 5' end.

**No data in a mean.** A mean is taken over the *covered* bases of its window only (bases where
the track has a value); bases without data do not count as 0. A window without any covered base
gives null. Windows are not clipped at the gene ends: the track is read ``max(TRACK_WINDOWS)``
bases beyond each end of the gene (bases past the contig ends have no data).

**Reads are streamed per gene**: one read of the gene's span plus the windows per track
(:meth:`BuildTracks.gene_values`), so memory follows the largest gene, not the dataset (a
bedGraph is held per contig as an interval index: see :mod:`fastbuild.tracks.reader`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

import fastbuild_kernels as kernels
from fastbuild.contigs import canonical, read_alias_file
from fastbuild.files import sha256_file
from fastbuild.tracks.reader import Track, match_contigs, open_track

__all__ = ["TRACK_WINDOWS", "BuildTracks", "check_tracks", "track_column_names", "track_features"]

log = logging.getLogger(__name__)

#: Window widths W of the ``NAME_mean_{up,down}W`` columns (bases each side of the position).
TRACK_WINDOWS = (10, 50, 250)
PAD = max(TRACK_WINDOWS)


def track_column_names(name: str) -> list[str]:
    """The columns of track ``name``: ``name``, then ``name_mean_upW``, ``name_mean_downW`` per W."""
    names = [name]
    for w in TRACK_WINDOWS:
        names += [f"{name}_mean_up{w}", f"{name}_mean_down{w}"]
    return names


def _aliases(config) -> dict | None:
    alias = config.inputs.chrom_alias
    return read_alias_file(alias) if alias else None


class BuildTracks:
    """The tracks of a build, opened for a set of genes (a batch, or the whole plan).

    Parameters
    ----------
    specs : sequence of (name, path)
        ``BuildConfig.track_specs``.
    genome_contigs : dict
        Genome contig -> last base the FASTA covers.
    chroms : iterable of str
        The genome contigs of the genes that will be read.
    aliases : dict, optional
        Contig aliases (``--chrom-alias``).

    Raises
    ------
    FastbuildError
        For a bad track file or contigs that match none of the genes' (see
        :func:`fastbuild.tracks.reader.match_contigs`).
    """

    def __init__(self, specs, genome_contigs: dict, chroms, aliases: dict | None = None):
        chroms = sorted(set(chroms))
        self.tracks: list[tuple[Track, dict]] = []
        try:
            for name, path in specs:
                track = open_track(name, path, keep=self._keep(chroms, aliases))
                self.tracks.append((track, {}))  # closed by close() should matching fail
                self.tracks[-1] = (track, match_contigs(track, genome_contigs, chroms, aliases))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _keep(chroms, aliases):
        """Which bedGraph contigs are worth holding: any spelling of the genes' contigs (None: all)."""
        if aliases:
            return None
        wanted = {canonical(c) for c in chroms}
        return lambda name: canonical(name) in wanted

    def gene_values(self, info: dict) -> dict[str, np.ndarray]:
        """Track name -> float32 values of the gene's span plus :data:`PAD` bases each side, in
        transcript orientation (index ``PAD`` is the gene's 5' end); NaN where there is no data."""
        start0, end0 = int(info["start"]) - 1 - PAD, int(info["end"]) + PAD
        out = {}
        for track, contigs in self.tracks:
            chrom = contigs.get(info["chrom"])
            if chrom is None:
                values = np.full(end0 - start0, np.nan, np.float32)
            else:
                values = track.read(chrom, start0, end0)
            out[track.name] = np.ascontiguousarray(values[::-1]) if info["strand"] == "-" else values
        return out

    def close(self) -> None:
        for track, _ in self.tracks:
            track.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_build_tracks(config, genome_contigs: dict, chroms) -> BuildTracks | None:
    """The tracks of ``config`` opened for genes on ``chroms``; None when the build has none."""
    if not config.tracks:
        return None
    return BuildTracks(config.track_specs, genome_contigs, chroms, _aliases(config))


def check_tracks(config, genome_contigs: dict, chroms) -> dict[str, str]:
    """Check every track of a build before any unit runs; returns track name -> sha256 of its file.

    Each file is opened and checked whole (bedGraph lines; bigWig header, contigs, summary),
    its contigs matched to the genes' (an error when none matches; a warning naming the genes'
    contigs it lacks, whose values will be null), and its checksum taken (an input of the
    configuration hash, like the FASTA's).
    """
    if not config.tracks:
        return {}
    chroms = sorted(set(chroms))
    with BuildTracks(config.track_specs, genome_contigs, chroms, _aliases(config)) as tracks:
        for track, contigs in tracks.tracks:
            lacking = [c for c in chroms if c not in contigs]
            if lacking:
                log.warning("%s has no data on %s: its columns are null for the genes there", track.label,
                            ", ".join(lacking[:6]) + (f" ... ({len(lacking)} contigs)" if len(lacking) > 6 else ""))
    return {name: sha256_file(Path(path)) for name, path in config.track_specs}


def track_features(values: dict[str, np.ndarray], kept: np.ndarray) -> tuple[dict, dict]:
    """The track columns of the kept rows of one gene (or transcript).

    Parameters
    ----------
    values : dict
        :meth:`BuildTracks.gene_values` of the gene.
    kept : numpy.ndarray of int
        Gene offsets (transcript orientation) of the kept rows.

    Returns
    -------
    (arrays, masks) : tuple of dict
        Column -> float32 values, and column -> null mask (True where the track has no data).
    """
    arrays, masks = {}, {}
    if not values:
        return arrays, masks
    at = np.asarray(kept, np.int64) + PAD
    for name, ext in values.items():
        means = kernels.track_window_means(ext, at, TRACK_WINDOWS)
        columns = [ext[at], *means]
        for column, data in zip(track_column_names(name), columns, strict=True):
            arrays[column] = data
            masks[column] = np.isnan(data)
    return arrays, masks
