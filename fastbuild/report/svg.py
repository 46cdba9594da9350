"""Plots as inline SVG, written by hand: grouped bars and step histograms, linear or log scale.

No plotting library and no script: each function returns one ``<svg class="plot" id=...>``
element (a ``viewBox`` and a ``<title>``, text escaped), so a report is one self-contained HTML
file that any browser draws as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 600, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 34, 46
#: Colours of the labels the report draws, and of anything else in turn.
COLOURS = {"TP": "#2e8b57", "FP": "#e69f00", "FN": "#c0392b", "TN": "#8c8c8c",
           "neither": "#8c8c8c", "donor": "#0072b2", "acceptor": "#cc79a7",
           "positions": "#b0c4de", "rows": "#0072b2", "genes": "#0072b2"}
CYCLE = ("#0072b2", "#e69f00", "#2e8b57", "#cc79a7", "#56b4e9", "#d55e00", "#8c8c8c", "#f0e442")


def colour(name: str, i: int) -> str:
    """The colour of series ``name`` (the ``i``-th of its plot)."""
    return COLOURS.get(name, CYCLE[i % len(CYCLE)])


def number(v: float) -> str:
    """A short axis label: 950, 1.2k, 3.4M, 0.25, 1e-04."""
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 1:
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:.3g}"
    return f"{v:.2g}" if a >= 1e-2 else f"{v:.0e}"


@dataclass(frozen=True)
class Scale:
    """A value axis from ``lo`` to ``hi`` (log10 when ``log``), mapped to a fraction 0..1."""

    lo: float
    hi: float
    log: bool

    @classmethod
    def fit(cls, values, log: bool) -> Scale:
        values = [float(v) for v in values if v is not None and math.isfinite(v)]
        if log:  # counts (every value >= 1) start at 0.5, so that a 1 stands off the axis; shares at a decade
            positive = [v for v in values if v > 0] or [1.0]
            lo = 0.5 if min(positive) >= 1 else 10.0 ** math.floor(math.log10(min(positive)))
            hi = 10.0 ** math.ceil(math.log10(max(positive)))
            return cls(lo, hi if hi > lo else lo * 10, True)
        top = max([0.0, *values])
        return cls(0.0, _nice_ceiling(top) if top > 0 else 1.0, False)

    def frac(self, v: float) -> float:
        """Where ``v`` falls (0 at ``lo``, 1 at ``hi``; below ``lo`` and zeros at 0 on a log axis)."""
        if self.log:
            return 0.0 if v <= self.lo else min(1.0, math.log10(v / self.lo) / math.log10(self.hi / self.lo))
        return min(1.0, max(0.0, (v - self.lo) / (self.hi - self.lo)))

    def ticks(self) -> list[float]:
        if self.log:  # the powers of ten inside the axis, at most about six
            first, last = math.ceil(math.log10(self.lo) - 1e-9), math.floor(math.log10(self.hi) + 1e-9)
            step = max(1, math.ceil((last - first) / 6))
            return [10.0 ** e for e in range(first, last + 1, step)]
        step = _nice_ceiling(self.hi / 5)
        return [i * step for i in range(int(self.hi / step + 1e-9) + 1)]


def _nice_ceiling(v: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at least ``v``."""
    e = 10.0 ** math.floor(math.log10(v))
    return next(m * e for m in (1, 2, 2.5, 5, 10) if m * e >= v * (1 - 1e-12))


@dataclass(frozen=True)
class Frame:
    """The plot area inside an SVG of ``width`` x ``height``."""

    width: int = WIDTH
    height: int = HEIGHT

    @property
    def x0(self) -> float:
        return LEFT

    @property
    def y0(self) -> float:
        return self.height - BOTTOM

    @property
    def w(self) -> float:
        return self.width - LEFT - RIGHT

    @property
    def h(self) -> float:
        return self.height - TOP - BOTTOM

    def y(self, scale: Scale, v: float) -> float:
        return self.y0 - scale.frac(v) * self.h


def _open(plot_id: str, title: str, frame: Frame) -> list[str]:
    return [f'<svg class="plot" id="{escape(plot_id)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {frame.width} {frame.height}" width="{frame.width}" height="{frame.height}" '
            f'role="img" font-family="sans-serif" font-size="11">',
            f"<title>{escape(title)}</title>",
            f'<text x="{frame.width / 2}" y="14" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(title)}</text>']


def _value_axis(frame: Frame, scale: Scale, label: str) -> list[str]:
    out = []
    for t in scale.ticks():
        y = frame.y(scale, t)
        out.append(f'<line x1="{frame.x0}" x2="{frame.x0 + frame.w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{frame.x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(number(t))}</text>')
    out.append(f'<line x1="{frame.x0}" x2="{frame.x0}" y1="{frame.y0}" y2="{frame.y0 - frame.h}" stroke="#444"/>')
    out.append(f'<line x1="{frame.x0}" x2="{frame.x0 + frame.w}" y1="{frame.y0}" y2="{frame.y0}" stroke="#444"/>')
    cy = frame.y0 - frame.h / 2
    suffix = " (log scale)" if scale.log else ""
    out.append(f'<text x="14" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 14 {cy:.1f})">'
               f"{escape(label + suffix)}</text>")
    return out


def _legend(frame: Frame, names: list[str]) -> list[str]:
    out, x = [], frame.x0 + frame.w
    for i, name in reversed(list(enumerate(names))):
        x -= 22 + 7 * len(name)
        out.append(f'<rect class="legend" x="{x:.1f}" y="{TOP - 14}" width="10" height="10" '
                   f'fill="{colour(name, i)}"/>')
        out.append(f'<text x="{x + 13:.1f}" y="{TOP - 5}">{escape(name)}</text>')
    return out


def bar_chart(plot_id: str, title: str, categories: list[str], series: dict[str, list[float]], *,
              log: bool = False, ylabel: str = "rows", width: int = WIDTH) -> str:
    """Grouped bars: one group per category, one bar per series (zeros and, on a log axis, values
    below the axis are left out); each bar's ``<title>`` gives its exact value."""
    frame = Frame(width, HEIGHT)
    scale = Scale.fit([v for vs in series.values() for v in vs], log)
    out = _open(plot_id, title, frame) + _value_axis(frame, scale, ylabel)
    group = frame.w / max(1, len(categories))
    bar = group * 0.8 / max(1, len(series))
    slanted = len(categories) > 5
    for c, cat in enumerate(categories):
        gx = frame.x0 + c * group + group * 0.1
        for s, (name, values) in enumerate(series.items()):
            v = values[c]
            top = min(frame.y(scale, v), frame.y0 - 2)  # any nonzero value shows, at least 2 px high
            if v and (v >= scale.lo or not scale.log):
                out.append(f'<rect class="bar" x="{gx + s * bar:.1f}" y="{top:.1f}" width="{max(bar - 1, 1):.1f}" '
                           f'height="{frame.y0 - top:.1f}" fill="{colour(name, s)}">'
                           f"<title>{escape(f'{cat}, {name}: {v:,}')}</title></rect>")
        cx, cy = gx + group * 0.4, frame.y0 + 16
        turn = f' transform="rotate(-25 {cx:.1f} {cy})"' if slanted else ""
        out.append(f'<text x="{cx:.1f}" y="{cy}" text-anchor="{"end" if slanted else "middle"}"{turn}>'
                   f"{escape(_short(cat))}</text>")
    if len(series) > 1:
        out += _legend(frame, list(series))
    return "\n".join([*out, "</svg>"])


def _steps(frame: Frame, scale: Scale, x, edges: list[float], values: list[float]) -> str:
    """SVG path data of a step line; on a log axis it breaks where a bin is empty (no log of zero)."""
    d, drawing = [], False
    for i, v in enumerate(values):
        if scale.log and v <= 0:
            drawing = False
            continue
        y = frame.y(scale, v)
        d.append(f"{'L' if drawing else 'M'}{x(edges[i]):.1f},{y:.1f} L{x(edges[i + 1]):.1f},{y:.1f}")
        drawing = True
    return " ".join(d) or f"M{frame.x0},{frame.y0}"


def _short(text: str, n: int = 18) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def histogram(plot_id: str, title: str, edges: list[float], series: dict[str, list[float]], *,
              log: bool = False, xlabel: str = "", ylabel: str = "", xticks: list[tuple[float, str]] | None = None,
              width: int = WIDTH) -> str:
    """Step lines over bins ``edges[i]..edges[i + 1]`` (one line per series, ``len(edges) - 1`` values
    each); x ticks at ``xticks`` ((value, label) pairs; default: five evenly spaced edges)."""
    frame = Frame(width, HEIGHT)
    scale = Scale.fit([v for vs in series.values() for v in vs], log)
    lo, hi = edges[0], edges[-1]

    def x(v: float) -> float:
        return frame.x0 + (v - lo) / ((hi - lo) or 1) * frame.w

    out = _open(plot_id, title, frame) + _value_axis(frame, scale, ylabel)
    if xticks is None:
        step = max(1, (len(edges) - 1) // 5)
        xticks = [(e, number(e)) for e in edges[::step]]
    for v, label in xticks:
        out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{frame.y0}" y2="{frame.y0 + 4}" stroke="#444"/>')
        out.append(f'<text x="{x(v):.1f}" y="{frame.y0 + 16}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<text x="{frame.x0 + frame.w / 2}" y="{frame.height - 8}" text-anchor="middle">'
               f"{escape(xlabel)}</text>")
    for s, (name, values) in enumerate(series.items()):
        out.append(f'<path class="series" fill="none" stroke="{colour(name, s)}" stroke-width="1.6" '
                   f'd="{_steps(frame, scale, x, edges, values)}"><title>{escape(name)}</title></path>')
    if len(series) > 1:
        out += _legend(frame, list(series))
    return "\n".join([*out, "</svg>"])
