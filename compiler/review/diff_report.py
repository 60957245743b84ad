"""`timeoutc diff` as text for terminals, markdown for pull requests, JSON for machines."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

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
Style = Callable[..., str]  # (text, fg=..., bold=...) -> text, as click.style
WIDTH = 100  # the text table, and the notes under it, fit this many columns
MIN_VALUE_WIDTH = 24
GAP = "  "
# Rows in reading order: the values a profile sets, what they derive, then budget margins.
SECTION_RANK = {
    "environment": 0,
    "timeout": 0,
    "dependency": 0,
    "startup": 1,
    "cloud-run": 1,
    "budget": 2,
}


@dataclass(frozen=True)
class Selection:
    """The rows a report shows, and how many margins it left out."""

    changes: tuple[Change, ...]
    margins_left_out: int


def is_margin(change: Change) -> bool:
    """A budget rule's remaining margin (not its status)."""
    return change.section == "budget" and " margin " in change.item


def shrank(change: Change) -> bool:
    """A margin that is smaller than before: less room before the rule breaks."""
    before, after = change.before, change.after
    if isinstance(before, int | Fraction) and isinstance(after, int | Fraction):
        return after < before
    return False


def select(changes: Sequence[Change], *, all_margins: bool = False) -> Selection:
    """Changed values first, derived ones next, then only the margins that shrank.

    A margin that grew (or appeared, or went with its service) says nothing a reviewer
    must act on; `all_margins` keeps every one.
    """
    kept = [c for c in changes if all_margins or not is_margin(c) or shrank(c)]
    ordered = sorted(kept, key=lambda c: SECTION_RANK.get(c.section, 1))  # stable
    return Selection(tuple(ordered), len(changes) - len(kept))


def margins_note(selection: Selection) -> str:
    """`3 budget margins did not shrink and are not shown; --margins shows all`."""
    count = selection.margins_left_out
    if count == 1:
        return "1 budget margin did not shrink and is not shown; --margins shows all"
    return f"{count} budget margins did not shrink and are not shown; --margins shows all"


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


def plain(text: str, **style: Any) -> str:
    """The text as it is: the style of a report that is not shown on a colour terminal."""
    return text


def _style_change(text: str, style: Style) -> str:
    if text == "added":
        return style(text, fg="green")
    if text == "removed":
        return style(text, fg="red")
    if text.lstrip("~").startswith("+"):
        return style(text, fg="yellow")
    if text.lstrip("~").startswith("-"):
        return style(text, fg="cyan")
    return text


def _table(rows: Sequence[tuple[str, ...]], width: int) -> list[list[str]]:
    """Aligned lines of cells; the value column (index 2) wraps so that a line fits `width`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    others = sum(w for i, w in enumerate(widths) if i != 2) + len(GAP) * (len(HEADERS) - 1)
    widths[2] = max(min(widths[2], width - others), MIN_VALUE_WIDTH)
    right = {3, 4, 5}
    table: list[list[str]] = []
    for row in rows:
        pieces = textwrap.wrap(row[2], widths[2], break_on_hyphens=False) or [""]
        for index, piece in enumerate(pieces):
            cells = list(row) if index == 0 else [""] * len(row)
            cells[2] = piece
            table.append(
                [
                    cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                    for i, cell in enumerate(cells)
                ]
            )
    return table


def _wrapped(text: str, width: int = WIDTH) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False, subsequent_indent="  ")


def render_text(diff: Diff, base: str, *, style: Style = plain, all_margins: bool = False) -> str:
    """The changed values, then derived ones and the margins that shrank, in 100 columns.

    Then added/removed names and a waterfall per changed startup. `style` colours a piece
    of text (`click.style` on a terminal).
    """

    def bold(text: str) -> str:
        return style(text, bold=True)

    title = f"timeoutc diff: {base} -> {WORKING_TREE}"
    if not diff.changed:
        return f"{title}: no changes to resolved values\n"
    selection = select(diff.changes, all_margins=all_margins)
    rows = [HEADERS, *(_cells(c) for c in selection.changes)]
    lines = [bold(title), ""]
    for number, cells in enumerate(_table(rows, WIDTH)):
        if number == 0:
            lines.append(bold(GAP.join(cells).rstrip()))
        else:
            padding = cells[5][: len(cells[5]) - len(cells[5].lstrip())]
            cells[5] = padding + _style_change(cells[5].lstrip(), style)
            lines.append(GAP.join(cells).rstrip())
    if selection.margins_left_out:
        lines += ["", *_wrapped(margins_note(selection))]
    for title_text, names in _membership(diff):
        lines += ["", *_wrapped(f"{bold(title_text)}: {', '.join(names)}")]
    for pair in diff.services:
        if startup_changed(pair):
            lines += ["", *waterfall(pair)]
    if _any_rounded(diff):
        lines += ["", *_wrapped(ROUNDED_NOTE)]
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(diff: Diff, base: str, *, all_margins: bool = False) -> str:
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
    membership = _membership(diff)
    for title, names in membership:
        listed = ", ".join(f"`{name}`" for name in names)
        lines.append(f"**{title.capitalize()}:** {listed}  ")
    if membership:
        lines.append("")
    selection = select(diff.changes, all_margins=all_margins)
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("| --- | --- | --- | ---: | ---: | ---: |")
    for change in selection.changes:
        cells = [_md_cell(cell) for cell in _cells(change)]
        cells[2] = f"`{cells[2]}`" if change.section == "timeout" else cells[2]
        lines.append("| " + " | ".join(cells) + " |")
    if selection.margins_left_out:
        lines += ["", margins_note(selection).replace("--margins", "`--margins`")]
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
