"""Line charts as SVG, drawn on the server: the console shows them with no script and under its
strict Content-Security-Policy (presentation attributes only: no style attribute, no inline
script). The drawing is small on purpose (a viewBox 360 units wide), so that its text stays
readable when the chart shrinks to a 375 px phone, and the page's CSS lets it grow to its column.

A series is a list of values, one per time bucket, None where there is nothing to show (a lane with
no started job in that minute): its line breaks there rather than drop to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 360, 190
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 24
FONT = 12
# Distinguishable for the common colour-vision deficiencies (Okabe and Ito's palette), then greys.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999999")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]
    colour: str


@dataclass(frozen=True)
class Chart:
    """What a page shows: the SVG and the legend's entries (an HTML list beside it wraps at any width)."""

    title: str
    svg: str
    series: list[Series]
    empty: bool


def colours(names: list[str], fixed: dict[str, str] | None = None) -> dict[str, str]:
    """A colour per name: `fixed` ones first (a status keeps its colour), the palette for the rest."""
    fixed = fixed or {}
    spare = iter(colour for colour in PALETTE if colour not in fixed.values())
    return {name: fixed.get(name) or next(spare, PALETTE[-1]) for name in names}


def line_chart(
    *,
    chart_id: str,
    title: str,
    times: list[datetime],
    series: list[Series],
    unit: str,
) -> Chart:
    """The chart of `series` over `times` (one value per time), its y axis from 0 to a round top."""
    values = [value for one in series for value in one.values if value is not None]
    top = _round_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(times), 1)

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    highest = {one.name: max(_present(one), default=0.0) for one in series}
    described = ", ".join(f"{name}: highest {_number(value)} {unit}" for name, value in highest.items())
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(described or "no data in this window")}</desc>',
    ]
    for tick in (0.0, top / 2, top):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 4}" y="{y(tick) + FONT / 3:.1f}" font-size="{FONT}" text-anchor="end" '
            f'fill="#57606a">{escape(_number(tick))}</text>'
        )
    if times:
        for index, anchor in ((0, "start"), (count // 2, "middle"), (count - 1, "end")):
            label = times[min(index, len(times) - 1)].strftime("%H:%M")
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - 6}" font-size="{FONT}" text-anchor="{anchor}" '
                f'fill="#57606a">{label}</text>'
            )
    for one in series:
        for run in _runs(one.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if len(run) == 1:
                ((i, v),) = run
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" fill="{escape(one.colour)}"/>')
            else:
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{escape(one.colour)}" '
                    f'stroke-width="1.5" stroke-linejoin="round"/>'
                )
    parts.append("</svg>")
    return Chart(title=title, svg="".join(parts), series=series, empty=not values)


def _present(series: Series) -> list[float]:
    return [value for value in series.values if value is not None]


def _runs(values: list[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of a series: a None ends one."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if run]


def _round_top(highest: float) -> float:
    """The y axis's top: 1, 2 or 5 times a power of ten, at or above `highest` (1 when nothing)."""
    if highest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(highest))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= highest)


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"
