"""Charts drawn on the server as SVG: no script, no library, nothing fetched; pages put each beside a table of its
numbers (the SVG is an image with a title and a description; the table is what a screen reader reads).

Plain functions of plain data (labels and numbers; None for a value that does not exist), returning SVG markup with
every text escaped. Colours come from the stylesheet (`.chart .s0` … `.s5`), so a chart follows the page's theme.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from itertools import count

_ids = count(1)
PALETTE = 6


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]
    style: int = 0  # the palette entry
    dashed: bool = False  # a threshold or target line


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _text(value: float | None, unit: str) -> str:
    if value is None:
        return "no value"
    return f"{_number(value)}{' ' if unit and unit not in ('%',) else ''}{unit}"


def _frame(title: str, description: str, width: int, height: int, body: list[str]) -> str:
    n = next(_ids)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'role="img" aria-labelledby="chart{n}t chart{n}d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart{n}t">{escape(title)}</title><desc id="chart{n}d">{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _y_axis(top: float, left: int, right: int, y_of, unit: str, ticks: int = 4) -> list[str]:
    parts = []
    for i in range(ticks + 1):
        value = top * i / ticks
        y = y_of(value)
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_number(value))}'
            f"{escape(unit) if unit == '%' else ''}</text>"
        )
    return parts


def line_chart(
    *, title: str, categories: list[str], series: list[Series], unit: str = "", top: float | None = None,
    width: int = 560, height: int = 220,
) -> str:
    """Lines over categories (weeks): one per series, a gap where a value is None, a dot and a tooltip per value."""
    left, right, upper, lower = 44, width - 10, 12, height - 46
    values = [v for s in series for v in s.values if v is not None]
    top = top if top is not None else _nice_max(max(values, default=0))
    n = len(categories)

    def x_of(i: int) -> float:
        return left + (right - left) * (i + 0.5) / max(n, 1)

    def y_of(value: float) -> float:
        return lower - (lower - upper) * min(value, top) / top

    body = _y_axis(top, left, right, y_of, unit)
    step = max(1, math.ceil(n / 8))  # at most 8 labels fit under the axis
    for i, label in enumerate(categories):
        if i % step == 0:
            body.append(f'<text class="tick" x="{x_of(i):.1f}" y="{lower + 16}" text-anchor="middle">'
                        f"{escape(label)}</text>")
    for s in series:
        style = f"s{s.style % PALETTE}"
        segments, current = [], []
        for i, value in enumerate(s.values):
            if value is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(f"{x_of(i):.1f},{y_of(value):.1f}")
        if current:
            segments.append(current)
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        for points in segments:
            body.append(f'<polyline class="line {style}" fill="none" points="{" ".join(points)}"{dash}/>')
        if not s.dashed:
            for i, value in enumerate(s.values):
                if value is not None:
                    body.append(
                        f'<circle class="dot {style}" cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="3">'
                        f"<title>{escape(s.label)}, {escape(categories[i])}: {escape(_text(value, unit))}</title>"
                        "</circle>"
                    )
    body += _legend(series, left, height - 12, width)
    description = "; ".join(
        f"{s.label}: " + ", ".join(f"{c} {_text(v, unit)}" for c, v in zip(categories, s.values, strict=True))
        for s in series
    )
    return _frame(title, description, width, height, body)


def _legend(series: list[Series], x: int, y: int, width: int) -> list[str]:
    parts, at = [], x
    for s in series:
        style = f"s{s.style % PALETTE}"
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        parts.append(f'<line class="line {style}" x1="{at}" y1="{y - 4}" x2="{at + 16}" y2="{y - 4}"{dash}/>')
        parts.append(f'<text class="legend" x="{at + 20}" y="{y}">{escape(s.label)}</text>')
        at += 30 + 7 * len(s.label)
        if at > width - 60:
            break
    return parts


def bar_chart(
    *, title: str, categories: list[str], series: list[Series], unit: str = "", top: float | None = None,
    width: int = 560,
) -> str:
    """Horizontal bars: a row per category (a group), a bar per series in it, its value written at its end."""
    label_width, right = 150, width - 56
    bar, gap = 10, 8
    rows = max(len(categories), 1)
    height = 20 + rows * (len(series) * bar + gap) + 28
    values = [v for s in series for v in s.values if v is not None]
    top = top if top is not None else _nice_max(max(values, default=0))
    body = []
    y = 16
    for i, label in enumerate(categories):
        short = label if len(label) <= 22 else label[:21] + "…"
        middle = y + len(series) * bar / 2 + 4
        body.append(f'<text class="tick" x="{label_width - 8}" y="{middle:.1f}" text-anchor="end">'
                    f"<title>{escape(label)}</title>{escape(short)}</text>")
        for s in series:
            value = s.values[i]
            length = 0 if value is None else (right - label_width) * min(value, top) / top
            style = f"s{s.style % PALETTE}"
            body.append(
                f'<rect class="bar {style}" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar - 1}">'
                f"<title>{escape(label)}, {escape(s.label)}: {escape(_text(value, unit))}</title></rect>"
            )
            body.append(f'<text class="value" x="{label_width + length + 4:.1f}" y="{y + bar - 1}">'
                        f"{escape(_text(value, unit) if value is not None else '—')}</text>")
            y += bar
        y += gap
    body += _legend(series, label_width, height - 8, width)
    description = "; ".join(
        f"{c}: " + ", ".join(f"{s.label} {_text(s.values[i], unit)}" for s in series)
        for i, c in enumerate(categories)
    )
    return _frame(title, description, width, height, body)


def pareto_chart(*, title: str, categories: list[str], counts: list[int], cumulative: list[float | None],
                 width: int = 560, height: int = 240) -> str:
    """Columns of counts, most first, and the running share as a line on a 0–100 % scale at the right."""
    left, right, upper, lower = 40, width - 44, 12, height - 64
    n = max(len(categories), 1)
    top = _nice_max(max(counts, default=0))
    slot = (right - left) / n

    def y_of(value: float, scale: float) -> float:
        return lower - (lower - upper) * min(value, scale) / scale

    body = _y_axis(top, left, right, lambda v: y_of(v, top), "")
    for i in range(5):
        value = 25 * i
        body.append(f'<text class="tick" x="{right + 6}" y="{y_of(value, 100) + 4:.1f}">{value}%</text>')
    points = []
    for i, (label, value, share) in enumerate(zip(categories, counts, cumulative, strict=True)):
        x = left + slot * i
        y = y_of(value, top)
        body.append(
            f'<rect class="bar s0" x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{lower - y:.1f}"><title>{escape(label)}: {value}</title></rect>'
        )
        short = label if len(label) <= 14 else label[:13] + "…"
        body.append(
            f'<text class="tick" x="{x + slot / 2:.1f}" y="{lower + 14}" text-anchor="end" '
            f'transform="rotate(-30 {x + slot / 2:.1f} {lower + 14})">{escape(short)}</text>'
        )
        if share is not None:
            points.append(f"{x + slot / 2:.1f},{y_of(share, 100):.1f}")
    if points:
        body.append(f'<polyline class="line s2" fill="none" points="{" ".join(points)}"/>')
    description = ", ".join(
        f"{label} {value} ({share} % cumulative)" for label, value, share in zip(categories, counts, cumulative,
                                                                                  strict=True)
    )
    return _frame(title, description, width, height, body)
