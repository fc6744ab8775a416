"""Charts as server-side SVG (pygal): no JavaScript, no CDN, shown as an <img> with the SVG in a data: URL.

pygal's SVG carries its own <style> (different per chart) and a config <script>: inline in the page, the
Content-Security-Policy (no inline script or style) would block both. Loaded as an image, the SVG is its own
document where scripts never run and its style is its own, so the page's policy stays strict (img-src data:).

One helper draws every time series the dashboard shows (backup size and duration per database, verification
restore time, a drill's measured recovery time against its RTO). Made to be read at a glance:
- values come in base units (bytes, seconds) and the axis unit is chosen from the data (10 KB backups in KiB,
  never "0.0 MiB" eleven times; a 2.5 s drill in seconds, not on a 0-30 min axis);
- a target becomes a dashed line across the period; when it sits far above the data the axis turns
  logarithmic, so both the data and the target stay readable;
- the time axis shows times when the points span a few days or less;
- failed attempts are marked as red crosses on the baseline;
- no points at all: an empty state in words, no axes (pygal would draw 1970).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timedelta

import pygal
from django.utils.html import format_html
from django.utils.safestring import SafeString
from pygal.style import Style

from core.units import Unit, number, unit_for

PALETTE = ("#0b3954", "#087e8b", "#bfd7ea", "#ff5a5f", "#c81d25", "#6c757d")
TARGET_COLOUR = "#a4161a"
FAILED_COLOUR = "#c81d25"
LOG_WHEN_TARGET_ABOVE = 10  # target / peak of the data beyond which the axis turns logarithmic
SHORT_SPAN = timedelta(days=3)


def _style(series_count: int, with_target: bool, with_failures: bool) -> Style:
    # pygal colours series by position: data first, then the target, then the failures.
    colours = tuple(PALETTE[i % len(PALETTE)] for i in range(series_count))
    colours += ((TARGET_COLOUR,) if with_target else ()) + ((FAILED_COLOUR,) if with_failures else ())
    return Style(
        background="transparent", plot_background="transparent", foreground="#333", foreground_strong="#111",
        foreground_subtle="#ccc", colors=colours, font_family="system-ui, sans-serif", label_font_size=11,
        major_label_font_size=11, legend_font_size=12, title_font_size=14, tooltip_font_size=12,
        guide_stroke_dasharray="1,4", major_guide_stroke_dasharray="1,4",
    )


def _time_format(xs: Sequence[datetime]) -> str:
    return "%m-%d %H:%M" if max(xs) - min(xs) <= SHORT_SPAN else "%Y-%m-%d"


def empty_state(title: str, text: str) -> SafeString:
    return format_html('<p class="chart-empty"><strong>{}</strong><br>{}</p>', title, text)


def as_image(svg: str, alt: str) -> SafeString:
    """The SVG document as an <img> (data: URL); its size attributes keep the aspect ratio while it loads."""
    encoded = base64.b64encode(svg.encode()).decode("ascii")
    return format_html('<img class="chart-image" src="data:image/svg+xml;base64,{}" alt="{}" width="800" '
                       'height="300">', encoded, alt)


def describe(title: str, points: dict[str, list[tuple[datetime, float]]], unit: Unit, target: float | None,
             target_label: str, failures: Sequence[datetime]) -> str:
    """The image's text alternative: what the chart shows, in words (newest value per series, target, failures)."""
    parts = [title + "."]
    for name, pts in points.items():
        if pts:
            at, value = pts[-1]
            parts.append(f"{name}: {len(pts)} point{'s' if len(pts) != 1 else ''}, newest {number(value, unit)} "
                         f"on {at:%Y-%m-%d %H:%M}.")
    if target is not None:
        parts.append(f"{target_label or 'target'}: {number(target, unit)}.")
    if failures:
        parts.append(f"{len(failures)} failed run{'s' if len(failures) != 1 else ''} marked.")
    return " ".join(parts)


def time_series_chart(title: str, series: dict[str, list[tuple[datetime, float]]], *, quantity: str | None = None,
                      target: float | None = None, target_label: str = "", failures: Sequence[datetime] = (),
                      empty_text: str = "Nothing recorded yet.") -> SafeString:
    """The chart as an <img> described in words, or an empty state when there is nothing to draw."""
    svg = time_series_svg(title, series, quantity=quantity, target=target, target_label=target_label,
                          failures=failures)
    if svg is None:
        return empty_state(title, empty_text)
    points = {name: sorted(p for p in pts if p[1] is not None) for name, pts in series.items()}
    peak = max(v for pts in points.values() for _, v in pts)
    return as_image(svg, describe(title, points, unit_for(quantity, peak), target, target_label, failures))


def time_series_svg(title: str, series: dict[str, list[tuple[datetime, float]]], *, quantity: str | None = None,
                    target: float | None = None, target_label: str = "",
                    failures: Sequence[datetime] = ()) -> str | None:
    """A standalone SVG document of one line per series (values in base units: bytes or seconds); None: no points."""
    points = {name: sorted(p for p in pts if p[1] is not None) for name, pts in series.items()}
    values = [v for pts in points.values() for _, v in pts]
    if not values:
        return None
    peak = max(values)
    unit = unit_for(quantity, peak)
    logarithmic = target is not None and min(values) > 0 and target > LOG_WHEN_TARGET_ABOVE * peak
    xs = [x for pts in points.values() for x, _ in pts] + list(failures)
    fmt = _time_format(xs)
    y_title = unit.title + (" (log scale)" if logarithmic else "")
    chart = pygal.DateTimeLine(
        title=title, y_title=y_title, style=_style(len(points), target is not None, bool(failures)), width=800,
        height=300, explicit_size=False,
        js=[],  # pygal links its tooltip script from a CDN by default; the dashboard serves no third-party JS
        disable_xml_declaration=True, show_legend=len(points) > 1 or target is not None or bool(failures),
        legend_at_bottom=True, x_label_rotation=20, x_value_formatter=lambda d: d.strftime(fmt), dots_size=2.5,
        truncate_legend=40, include_x_axis=not logarithmic, logarithmic=logarithmic,
        value_formatter=lambda v: number(v * unit.factor, unit),
    )
    for name, pts in points.items():
        chart.add(name, [(x, v / unit.factor) for x, v in pts])
    if target is not None:
        # Two points spanning the period draw the target as a line; dashed so it reads as a limit, not data.
        start, end = min(xs), max(xs)
        if start == end:  # one point: widen the span so the target still draws as a line, not a dot
            start, end = start - timedelta(hours=12), end + timedelta(hours=12)
        chart.add(target_label or "target", [(start, target / unit.factor), (end, target / unit.factor)],
                  stroke_style={"width": 2, "dasharray": "6, 4"}, show_dots=False)
    if failures:
        baseline = min(values) / unit.factor if logarithmic else 0
        chart.add(f"failed run{'s' if len(failures) != 1 else ''}", [(x, baseline) for x in sorted(failures)],
                  stroke=False, dots_size=5)
    return chart.render(is_unicode=True)
