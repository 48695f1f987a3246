"""The overview's chart as inline SVG, drawn on the server: no chart library, no script.

Three bars a day (sent, failed, received) over the last 30 days, a y axis with round steps,
and every fifth day labelled. The SVG is an image with a title and description for screen
readers; the page shows the same numbers as a table too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from markupsafe import Markup, escape

from simgate.services.overview import DayCount

WIDTH: Final = 720
HEIGHT: Final = 240
LEFT: Final = 44  # room for the y labels
RIGHT: Final = 22  # room for the last day label
TOP: Final = 12
BOTTOM: Final = 28  # room for the x labels
SERIES: Final = (("sent", "#1c7c40"), ("failed", "#c0392b"), ("received", "#1f5fbf"))


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 4)."""
    if value <= 4:  # noqa: PLR2004 - four grid steps of one
        return 4
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def bar_chart(days: Sequence[DayCount], title: str) -> Markup:
    """The SVG of ``days`` (oldest first)."""
    top = nice_ceiling(max([0, *(getattr(d, name) for d in days for name, _ in SERIES)]))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(1.0, (slot - 4) / len(SERIES))
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" class="bars">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(_describe(days))}</desc>',
    ]
    for step in range(5):
        value = top * step // 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d9dde3" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" '
            f'fill="#5a6372">{value}</text>'
        )
    for index, day in enumerate(days):
        x0 = LEFT + index * slot + 2
        for offset, (name, colour) in enumerate(SERIES):
            count = getattr(day, name)
            if not count:
                continue
            height = plot_h * count / top
            parts.append(
                f'<rect x="{x0 + offset * bar:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{day.day:%d %b}: {count} {name}</title></rect>"
            )
        if (len(days) - 1 - index) % 5 == 0:
            parts.append(
                f'<text x="{x0 + slot / 2 - 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'font-size="13" fill="#5a6372">{day.day:%d %b}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers, dates and escape()


def _describe(days: Sequence[DayCount]) -> str:
    totals = {name: sum(getattr(day, name) for day in days) for name, _ in SERIES}
    return (
        f"Over {len(days)} days: {totals['sent']} sent, {totals['failed']} failed, "
        f"{totals['received']} received."
    )
