"""A small, dependency-free progress line on standard error."""

from __future__ import annotations

import sys
import time


class Progress:
    """Throttled ``label: done/total (pct) elapsed, eta`` lines.

    Parameters
    ----------
    total : int
        Number of units expected.
    label : str
        What is counted (``"genes"``).
    enabled : bool
        False makes every call a no-op.
    every : float
        Minimum seconds between two lines.
    """

    def __init__(self, total: int, label: str, enabled: bool = True, every: float = 1.0, stream=None):
        self.total, self.label, self.enabled, self.every = total, label, enabled, every
        self.stream = stream or sys.stderr
        self.done = 0
        self.t0 = time.perf_counter()
        self._last = 0.0

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= self.every or self.done >= self.total:
            self._last = now
            self._print(now, note)

    def _print(self, now: float, note: str) -> None:
        elapsed = now - self.t0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        extra = f" {note}" if note else ""
        print(f"{self.label}: {self.done}/{self.total} ({pct:.0f}%) {elapsed:.1f}s elapsed, "
              f"~{eta:.0f}s left{extra}", file=self.stream, flush=True)
