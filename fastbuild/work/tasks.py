"""A work unit, and how a running unit reports progress to whoever runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_reporter: Callable[[int, int], None] | None = None


@dataclass(frozen=True)
class Task:
    """One planned piece of work.

    Parameters
    ----------
    key : str
        Unique, stable name within its plan (``"batch-00003"``); the Dask task key is made from it.
    fn : callable
        A module-level function ``fn(arg) -> result`` (picklable by reference); ``result`` must
        be small (statistics), the unit's data goes to its own file.
    arg : object
        The picklable argument of ``fn``.
    items : int
        How many progress items (genes) the unit covers.
    resources : dict
        Dask worker resources the unit asks for (e.g. ``{"GPU": 1}``); ignored by local executors.
    """

    key: str
    fn: Callable[[Any], Any]
    arg: Any
    items: int = 1
    resources: dict = field(default_factory=dict)

    def run(self):
        return self.fn(self.arg)


def report_progress(items: int = 1, rows: int = 0) -> None:
    """Called by a running unit after each item (gene): forwarded to the executor's progress line."""
    if _reporter is not None:
        _reporter(items, rows)


def set_reporter(reporter: Callable[[int, int], None] | None) -> None:
    """Install the progress callback of this process (the executor does this)."""
    global _reporter
    _reporter = reporter
