"""Quantities in units scaled to the value (10,000 bytes -> "9.77 KiB", 5400 s -> "1.5 h"): the charts' axes and
the command line's output say sizes and durations the same way. No imports beyond the standard library, so a
command can use it without loading the chart library."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    symbol: str
    factor: float
    title: str


UNITS = {
    "bytes": (Unit("B", 1, "bytes"), Unit("KiB", 1024, "KiB"), Unit("MiB", 1024 ** 2, "MiB"),
              Unit("GiB", 1024 ** 3, "GiB"), Unit("TiB", 1024 ** 4, "TiB")),
    "seconds": (Unit("s", 1, "seconds"), Unit("min", 60, "minutes"), Unit("h", 3600, "hours")),
    None: (Unit("", 1, ""),),
}


def unit_for(quantity: str | None, peak: float) -> Unit:
    """The largest unit in which the peak is at least 1 (10,000 bytes -> KiB, 2.5 s -> s, 5400 s -> h)."""
    chosen = UNITS[quantity][0]
    for unit in UNITS[quantity]:
        if peak >= unit.factor:
            chosen = unit
    return chosen


def number(value: float, unit: Unit) -> str:
    scaled = value / unit.factor
    text = f"{scaled:.3g}" if abs(scaled) < 1000 else f"{scaled:,.0f}"
    return f"{text} {unit.symbol}".strip()


def human_bytes(size: int | None) -> str:
    """12,900,000 -> '12.3 MiB'; None -> 'unknown size'."""
    if size is None:
        return "unknown size"
    return number(size, unit_for("bytes", size))
