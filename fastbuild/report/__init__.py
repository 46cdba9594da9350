"""The dataset report: one self-contained HTML page (plots as inline SVG) and a README.md dataset card,
made from the statistics a build records (``build_info.json``, the manifest, the batch files'
footers and schema), never by rereading its rows.

Modules: :mod:`~.config` (ReportConfig), :mod:`~.facts` (what a build recorded), :mod:`~.svg`
(hand-written plots), :mod:`~.figures` (the report's plots), :mod:`~.page` (the HTML page),
:mod:`~.card` (README.md), :mod:`~.write` (the files, atomically; the build's finalise hook).
"""

from fastbuild.lazy import lazy_exports

_WHERE = {"ReportConfig": "config", "ReportResult": "write", "write_report": "write",
          "facts_from_folder": "facts", "DatasetFacts": "facts"}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
