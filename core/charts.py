"""Charts as server-side SVG (pygal): no JavaScript, no CDN, embeddable straight into a template.

One helper draws every time series the dashboard shows (backup size and duration per database, verification
restore time, a drill's measured recovery time against its RTO). An optional target becomes a dashed line across
the whole period, so "are we inside the objective?" is answered by looking.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

PALETTE = ("#0b3954", "#087e8b", "#bfd7ea", "#ff5a5f", "#c81d25", "#6c757d")
TARGET_COLOUR = "#a4161a"



def _style(series_count: int, with_target: bool) -> Style:
    # pygal colours series by position: the target, added last, always gets the alarm colour.
    colours = tuple(PALETTE[i % len(PALETTE)] for i in range(series_count)) + ((TARGET_COLOUR,) if with_target else ())
    return Style(
        background="transparent", plot_background="transparent", foreground="#333", foreground_strong="#111",
        foreground_subtle="#ccc", colors=colours, font_family="system-ui, sans-serif", label_font_size=11,
        major_label_font_size=11, legend_font_size=12, title_font_size=14, tooltip_font_size=12,
        guide_stroke_dasharray="1,4", major_guide_stroke_dasharray="1,4",
    )


def time_series_svg(title: str, series: dict[str, list[tuple[datetime, float]]], *, y_title: str,
                    target: float | None = None, target_label: str = "",
                    value_format: Callable[[float], str] | None = None) -> SafeString:
    """An inline <svg> of one line per series (points sorted by time), with an optional dashed target line."""
    chart = pygal.DateTimeLine(
        title=title, y_title=y_title, style=_style(len(series), target is not None), width=800, height=300,
        explicit_size=False,
        js=[],  # pygal links its tooltip script from a CDN by default; the dashboard serves no third-party JS
        disable_xml_declaration=True, show_legend=len(series) > 1 or target is not None, legend_at_bottom=True,
        x_label_rotation=20, x_value_formatter=lambda d: d.strftime("%Y-%m-%d"), dots_size=2.5,
        truncate_legend=40, no_data_text="No data yet", include_x_axis=True,
        value_formatter=value_format or (lambda v: f"{v:g}"),
    )
    xs = []
    for name, points in series.items():
        points = sorted(points)
        xs += [x for x, _ in points]
        chart.add(name, points)
    if target is not None and xs:
        # Two points spanning the period draw the target as a line; dashed so it reads as a limit, not data.
        start, end = min(xs), max(xs)
        if start == end:  # one point: widen the span so the target still draws as a line, not a dot
            start, end = start - timedelta(days=1), end + timedelta(days=1)
        chart.add(target_label or "target", [(start, target), (end, target)],
                  stroke_style={"width": 2, "dasharray": "6, 4"}, show_dots=False)
    return mark_safe(chart.render(is_unicode=True))
