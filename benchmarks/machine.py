"""The machine a benchmark ran on, named next to every absolute figure."""

from __future__ import annotations

import platform


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else platform.processor(), else "unknown CPU"."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
