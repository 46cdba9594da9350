"""Genome-browser tracks out of fastbuild, and other models' scores into it (needs the ``tracks`` extra).

Public API (imported on first use)::

    export_tracks(config=None, **options) -> manifest dict    fastbuild tracks
    import_scores(config=None, **options) -> summary dict     fastbuild import
    TracksConfig, ImportConfig                                every option of the two commands

Modules: ``config`` (options), ``bigwig`` (pybigtools: open and check, read, write),
``contig_sizes`` (contigs of the FASTA, a track's checked against them), ``strands`` (split or
collapsed strands), ``store_tracks`` / ``dataset_tracks`` / ``predictions`` / ``frame_tracks``
(what is exported), ``export`` (the folder, tracks.json, igv_session.xml), ``sources``
(bigWigs or a table to import) and ``importer`` (the store); ``reader`` and ``features`` read
tracks as build features (``fastbuild build --track``). See docs/tracks.md.
"""

from fastbuild.lazy import lazy_exports

_WHERE = {"TracksConfig": "config", "ImportConfig": "config", "export_tracks": "export",
          "import_scores": "importer"}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
