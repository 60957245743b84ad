"""Pictures of a startup chain: a Mermaid gantt chart for markdown, a waterfall for terminals.

Each startup phase is a bar that starts where the previous one ended; the cold-start
buffer and the boot time follow the last phase; the startup probe window starts at zero.
Before and after
are drawn on one scale so that a reviewer sees the chain grow or shrink.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from compiler.durations import format_seconds
from compiler.model import Service
from compiler.review.diff import ServicePair

BarKind = Literal["phase", "buffer", "window"]
WATERFALL_WIDTH = 48
_FILL = {"phase": "█", "buffer": "░", "window": "─"}


@dataclass(frozen=True)
class Bar:
    """One bar of a startup chart, in milliseconds from the start of the container."""

    label: str
    start_ms: int
    end_ms: int
    kind: BarKind

    @property
    def duration(self) -> str:
        """`8.0s`."""
        return format_seconds(self.end_ms - self.start_ms) + "s"


def startup_bars(service: Service) -> tuple[Bar, ...]:
    """The phases in order, each at its worst case, then the cold-start buffer and boot
    time, then the probe window."""
    bars = []
    offset = 0
    for timeout in service.startup:  # each phase at its worst case, as the probe is sized
        label = timeout.ref if timeout.attempts == 1 else f"{timeout.ref} x{timeout.attempts}"
        bars.append(Bar(label, offset, offset + timeout.worst_ms, "phase"))
        offset += timeout.worst_ms
    if service.cold_start_buffer_ms:
        bars.append(
            Bar("cold-start buffer", offset, offset + service.cold_start_buffer_ms, "buffer")
        )
        offset += service.cold_start_buffer_ms
    if service.boot_time_ms:
        bars.append(Bar("boot time", offset, offset + service.boot_time_ms, "buffer"))
        offset += service.boot_time_ms
    window_ms = service.startup_probe.window_s * 1000
    if window_ms:
        bars.append(Bar("startup probe window", 0, window_ms, "window"))
    return tuple(bars)


def _sides(pair: ServicePair) -> list[tuple[str, tuple[Bar, ...]]]:
    sides = []
    if pair.before is not None:
        sides.append(("before", startup_bars(pair.before)))
    if pair.after is not None:
        sides.append(("after", startup_bars(pair.after)))
    return sides


def startup_changed(pair: ServicePair) -> bool:
    """Whether the picture differs (or exists on one side only)."""
    bars = [bars for _, bars in _sides(pair)]
    return any(bars) and (len(bars) == 1 or bars[0] != bars[1])


def mermaid_gantt(pair: ServicePair) -> str:
    """A ```mermaid block: one section per side, one task per bar, times in milliseconds."""
    lines = [
        "```mermaid",
        "gantt",
        f"    title {pair.environment} / {pair.name} startup",
        "    dateFormat x",
        "    axisFormat %M:%S",
        "    todayMarker off",
    ]
    for side, bars in _sides(pair):
        lines.append(f"    section {side}")
        for index, bar in enumerate(bars):
            tags = {"phase": "", "buffer": "active, ", "window": "crit, "}[bar.kind]
            task_id = f"{side[0]}{index}"
            lines.append(
                f"    {bar.label} {bar.duration} :{tags}{task_id}, {bar.start_ms}, {bar.end_ms}"
            )
    lines.append("```")
    return "\n".join(lines)


def _column(ms: int, scale_ms: int, width: int) -> int:
    return round(Fraction(ms * width, scale_ms)) if scale_ms else 0


def waterfall(pair: ServicePair, width: int = WATERFALL_WIDTH) -> list[str]:
    """A terminal waterfall: a labelled row per bar, before above after, on one scale."""
    sides = _sides(pair)
    scale_ms = max((bar.end_ms for _, bars in sides for bar in bars), default=0)
    labels = [bar.label for _, bars in sides for bar in bars]
    label_width = max(len(label) for label in labels) if labels else 0
    durations = [bar.duration for _, bars in sides for bar in bars]
    duration_width = max(len(d) for d in durations) if durations else 0
    indent = 4 + label_width + 1 + duration_width + 1
    end_label = format_seconds(scale_ms) + "s"
    lines = [f"{pair.environment} / {pair.name}: startup"]
    for side, bars in sides:
        axis = "0s".ljust(width + 1 - len(end_label)) + end_label
        lines.append(f"  {side}".ljust(indent) + " " + axis)
        for bar in bars:
            start = min(_column(bar.start_ms, scale_ms, width), width - 1)
            end = max(_column(bar.end_ms, scale_ms, width), start + 1)
            row = " " * start + _FILL[bar.kind] * (end - start)
            label = f"    {bar.label.ljust(label_width)} {bar.duration.rjust(duration_width)}"
            lines.append(f"{label} |{row.ljust(width)}|")
    return lines
