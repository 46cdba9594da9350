"""The executor interface: what runs work units and hands their results back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastbuild.work.tasks import Task

OnResult = Callable[[Task, Any], None]
OnProgress = Callable[[int, int], None]


class Executor:
    """Runs units; :meth:`run` calls ``on_result(unit, result)`` in the main thread per finished unit."""

    name = "executor"
    reports_items = True  # progress arrives per item (gene) rather than per unit

    def run(self, units: Sequence[Task], on_result: OnResult, on_progress: OnProgress) -> None:
        raise NotImplementedError

    def start(self, warm: Callable[[Any], Any] | None = None) -> None:
        """Get ready before the units are known (local workers start and run ``warm(None)``, so
        their imports overlap the caller's planning); optional, :meth:`run` starts what it needs."""

    def close(self) -> None:
        """Release what :meth:`start` holds (idempotent)."""

    def describe(self) -> str:
        return self.name
