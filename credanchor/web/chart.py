"""A bar chart of daily counts as SVG markup, drawn on the server: pure (numbers in, text out).

Invariants: no script, no style attribute and no external reference in the markup (it passes the page's
CSP as inline SVG); every label is escaped; the chart has a title and a description for screen readers, and
the numbers are also given as a table on the page.
"""

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 44, 28, 12
SERIES = (("views", "#1d4ed8", "page views"), ("verifications", "#b45309", "verifications"))


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 50_000, 100_000):
        if value <= step * 4:
            return step * 4
    return value


def daily_chart(days: Sequence[tuple[str, int, int]], title: str) -> str:
    """`days`: (YYYY-MM-DD, page views, verifications), oldest first."""
    top = _nice_max(max([max(v, c) for _, v, c in days] + [1]))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot / 2 - 2, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">Bars per day: blue {SERIES[0][2]}, amber {SERIES[1][2]}; the table below '
        "gives the same numbers.</desc>",
    ]
    for i in range(5):
        value = top * i // 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d1d5db"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value}</text>')
    for n, (day, views, verifications) in enumerate(days):
        x = LEFT + n * slot + 1
        for k, count in enumerate((views, verifications)):
            height = plot_h * count / top
            parts.append(
                f'<rect x="{x + k * (bar + 1):.1f}" y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{SERIES[k][1]}"><title>{escape(day)}: {count} {SERIES[k][2]}'
                "</title></rect>"
            )
        if n % max(len(days) // 6, 1) == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 10}" font-size="11">{escape(day[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)
