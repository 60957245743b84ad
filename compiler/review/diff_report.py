"""`timeoutc diff` as text for terminals, markdown for pull requests, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import click

from compiler.durations import format_factor
from compiler.review.charts import mermaid_gantt, startup_changed, waterfall
from compiler.review.diff import Change, Diff, change_text, format_value, percent

HEADERS = ("environment", "service", "value", "before", "after", "change")
ALL_SERVICES = "(all)"
ROUNDED_NOTE = (
    "~ rounded: the exact change is not a terminating decimal "
    "(2 decimals, or 3 significant digits below 1%)"
)
WORKING_TREE = "the working tree"


def _cells(change: Change) -> tuple[str, ...]:
    return (
        change.environment,
        change.service or ALL_SERVICES,
        change.item,
        format_value(change.before, change.unit),
        format_value(change.after, change.unit),
        change_text(change),
    )


def _any_rounded(diff: Diff) -> bool:
    return any(change_text(c).startswith("~") for c in diff.changes)


def _membership(diff: Diff) -> list[tuple[str, list[str]]]:
    """('added environments', [...]) and the like, only the non-empty ones."""
    groups = [
        ("added environments", list(diff.environments_added)),
        ("removed environments", list(diff.environments_removed)),
        ("added services", [f"{env} / {name}" for env, name in diff.services_added]),
        ("removed services", [f"{env} / {name}" for env, name in diff.services_removed]),
    ]
    return [(title, names) for title, names in groups if names]


def _style_change(text: str, color: bool) -> str:
    if not color:
        return text
    if text == "added":
        return click.style(text, fg="green")
    if text == "removed":
        return click.style(text, fg="red")
    if text.lstrip("~").startswith("+"):
        return click.style(text, fg="yellow")
    if text.lstrip("~").startswith("-"):
        return click.style(text, fg="cyan")
    return text


def render_text(diff: Diff, base: str, *, color: bool = False) -> str:
    """Aligned columns, then added/removed names, then a waterfall per changed startup."""
    bold: Callable[[str], str] = (lambda s: click.style(s, bold=True)) if color else str
    title = f"timeoutc diff: {base} -> {WORKING_TREE}"
    if not diff.changed:
        return f"{title}: no changes to resolved values\n"
    rows = [HEADERS, *(_cells(c) for c in diff.changes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    right = {3, 4, 5}
    lines = [bold(title), ""]
    for number, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        if number == 0:
            lines.append(bold("  ".join(cells).rstrip()))
        else:
            padding = cells[5][: len(cells[5]) - len(cells[5].lstrip())]
            cells[5] = padding + _style_change(cells[5].lstrip(), color)
            lines.append("  ".join(cells).rstrip())
    for title_text, names in _membership(diff):
        lines += ["", f"{bold(title_text)}: {', '.join(names)}"]
    for pair in diff.services:
        if startup_changed(pair):
            lines += ["", *waterfall(pair)]
    if _any_rounded(diff):
        lines += ["", ROUNDED_NOTE]
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(diff: Diff, base: str) -> str:
    """A heading, the table, added/removed names, and a Mermaid gantt per changed startup."""
    lines = [
        "### timeoutc diff",
        "",
        f"Resolved timeouts of `{base}` compared with {WORKING_TREE}.",
    ]
    if not diff.changed:
        lines += ["", "No changes to resolved values."]
        return "\n".join(lines) + "\n"
    lines.append("")
    for title, names in _membership(diff):
        listed = ", ".join(f"`{name}`" for name in names)
        lines.append(f"**{title.capitalize()}:** {listed}  ")
    if _membership(diff):
        lines.append("")
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("| --- | --- | --- | ---: | ---: | ---: |")
    for change in diff.changes:
        cells = [_md_cell(cell) for cell in _cells(change)]
        cells[2] = f"`{cells[2]}`" if change.section == "timeout" else cells[2]
        lines.append("| " + " | ".join(cells) + " |")
    if _any_rounded(diff):
        lines += ["", ROUNDED_NOTE]
    for pair in diff.services:
        if startup_changed(pair):
            lines += [
                "",
                f"#### {pair.environment} / {pair.name}: startup",
                "",
                mermaid_gantt(pair),
            ]
    return "\n".join(lines) + "\n"


def _json_value(change: Change, value: Any) -> Any:
    if isinstance(value, Fraction):
        return format_factor(value)
    return value


def _json_change(change: Change) -> dict[str, Any]:
    ratio = change.ratio
    text, exact = percent(ratio) if ratio is not None else (None, None)
    return {
        "environment": change.environment,
        "service": change.service or None,
        "section": change.section,
        "item": change.item,
        "unit": change.unit,
        "status": change.status,
        "before": _json_value(change, change.before),
        "after": _json_value(change, change.after),
        "before_text": format_value(change.before, change.unit),
        "after_text": format_value(change.after, change.unit),
        "change_percent": text,
        "change_exact": exact,
        "change_ratio": str(ratio) if ratio is not None else None,
    }


def render_json(diff: Diff, base_label: str, base_commit: str | None) -> str:
    """One JSON document; milliseconds for durations, factors as exact decimal strings."""
    document = {
        "base": {"ref": base_label, "commit": base_commit},
        "head": "working tree",
        "changed": diff.changed,
        "environments": {
            "added": list(diff.environments_added),
            "removed": list(diff.environments_removed),
        },
        "services": {
            "added": [{"environment": e, "service": s} for e, s in diff.services_added],
            "removed": [{"environment": e, "service": s} for e, s in diff.services_removed],
        },
        "changes": [_json_change(c) for c in diff.changes],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
