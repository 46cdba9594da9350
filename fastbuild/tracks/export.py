"""``fastbuild tracks``: a score store, a dataset or predictions -> genome-browser tracks in one folder.

The folder gets the tracks (:mod:`~fastbuild.tracks.store_tracks`,
:mod:`~fastbuild.tracks.dataset_tracks`, :mod:`~fastbuild.tracks.predictions`), then
``igv_session.xml`` (an IGV session with the genome and every track) and last ``tracks.json``
(what was exported from what, the contigs, and each file with its sha256). Every file is written
atomically, into a staging folder inside the output folder, and moved out of it once all are
written (a failed export leaves none of its files); ``tracks.json`` is written last and removed
first, so a folder with it is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from xml.sax.saxutils import quoteattr

from fastbuild.atomic import ensure_dir, fsync_dir, tmp_path, write_text
from fastbuild.errors import FastbuildError
from fastbuild.tracks.config import TracksConfig
from fastbuild.tracks.contig_sizes import genome_sizes, resolve_fasta

__all__ = ["MANIFEST", "SESSION", "export_tracks"]

log = logging.getLogger(__name__)

MANIFEST = "tracks.json"
SESSION = "igv_session.xml"
FORMAT = "fastbuild-tracks/1"


def _prepare_out(out: Path, overwrite: bool) -> bool:
    """Check ``--out``; returns whether it had to be created (so that a failure removes it again)."""
    if out.exists() and not out.is_dir():
        raise FastbuildError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FastbuildError(f"--out {out} is not empty; use another folder or --overwrite (replaces the tracks "
                             "written there)")
    created = not out.exists()
    ensure_dir(out)
    (out / MANIFEST).unlink(missing_ok=True)
    return created


def _publish(staging: Path, out: Path, names: list[str]) -> None:
    """Move the finished files from the staging folder into ``out``."""
    for name in names:
        os.replace(staging / name, out / name)
    fsync_dir(out)


def igv_session(fasta: str, files: list[dict]) -> str:
    """An IGV session (XML) with the genome FASTA and the track files (paths relative to the session)."""
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
             f'<Session genome={quoteattr(str(Path(fasta).absolute()))} version="8">', "  <Resources>"]
    lines += [f"    <Resource path={quoteattr(f['file'])}/>" for f in files]
    lines += ["  </Resources>", "</Session>", ""]
    return "\n".join(lines)


def _export(config: TracksConfig, out: Path, sizes: dict[str, int]) -> dict:
    if config.source == "scores":
        from fastbuild.tracks.store_tracks import export_store

        return export_store(config.scores, out, sizes, config.strands)
    if config.source == "predictions":
        from fastbuild.tracks.predictions import export_predictions

        return export_predictions(config.predictions, out, sizes, config.strands, config.dataset)
    from fastbuild.tracks.dataset_tracks import export_dataset

    return export_dataset(config.dataset, out, sizes, config.strands, config.columns)


def export_tracks(config: TracksConfig | None = None, **options) -> dict:
    """Export the tracks ``config`` names (see :class:`~fastbuild.tracks.config.TracksConfig`).

    Returns
    -------
    dict
        What ``tracks.json`` holds: format, source, strands, genome (FASTA and contigs), files
        (file, name, strand, intervals or lines, conflicts, sha256), empty (files left out for
        want of values).

    Raises
    ------
    FastbuildError
        Nothing named to export, a bad input (store, dataset, predictions), contigs that do not
        match the FASTA, a non-empty ``--out`` without ``--overwrite``.
    """
    config = TracksConfig(**options) if config is None else config
    if config.source is None:
        raise FastbuildError("nothing to export: give --scores STORE, --dataset DIR or --predictions FILE")
    if config.out is None:
        raise FastbuildError("give --out DIR, the folder for the tracks")
    from fastbuild.tracks.bigwig import require_pybigtools

    require_pybigtools()
    fasta = resolve_fasta(config.fasta, config.reference, config.dataset)
    sizes = genome_sizes(fasta)
    out = Path(config.out)
    created = _prepare_out(out, config.overwrite)
    staging = tmp_path(out / ".tracks")  # every file is made here, and moved into out once all are
    try:
        ensure_dir(staging)
        manifest = _write_all(config, staging, fasta, sizes)
        _publish(staging, out, [f["file"] for f in manifest["files"]] + [SESSION])
        write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _write_all(config: TracksConfig, staging: Path, fasta: str, sizes: dict[str, int]) -> dict:
    """Write the tracks and the IGV session into ``staging``; the manifest."""
    result = _export(config, staging, sizes)
    if not result["files"]:
        raise FastbuildError(f"nothing to export from {result['source']['path']}: no value for any track")
    for f in result["files"]:
        if f.get("conflicts"):
            log.warning("%s: %d positions had different values from overlapping genes or transcripts; kept the %s",
                        f["file"], f["conflicts"], "minimum" if f["name"].endswith("neither") else "maximum")
    write_text(staging / SESSION, igv_session(fasta, result["files"]))
    return {"format": FORMAT, "source": result["source"], "strands": config.strands,
            "genome": {"fasta": str(Path(fasta).absolute()), "contigs": sizes},
            "files": result["files"], "empty": result["empty"], "session": SESSION}
