"""`timeoutc drift` as text for terminals, markdown for an issue or job summary, JSON."""

from __future__ import annotations

import json
from typing import Any

from compiler.review.drift.check import DriftReport
from compiler.review.drift.compare import Row

HEADERS = ("env", "service", "field", "declared", "deployed", "declared at")
NOT_DECLARED = "(not declared)"
MISSING = "(missing)"
NOT_DEPLOYED = "(not deployed)"


def _cells(row: Row) -> tuple[str, ...]:
    declared = row.declared if row.declared is not None else NOT_DECLARED
    if row.kind == "not-deployed":
        deployed = NOT_DEPLOYED
    else:
        deployed = row.deployed if row.deployed is not None else MISSING
    at = str(row.declared_at) if row.declared_at is not None else "-"
    return (row.environment, row.service, row.field, declared, deployed, at)


def summary(report: DriftReport) -> str:
    """`staging: 1 drifted value in 2 services (exports/)`, or `no drift`."""
    count = len(report.services)
    services = f"{count} service{'s' if count != 1 else ''}"
    if not report.drifted:
        return f"{report.environment}: no drift in {services} ({report.source})"
    rows = len(report.rows)
    values = f"{rows} drifted value{'s' if rows != 1 else ''}"
    return f"{report.environment}: {values} in {services} ({report.source})"


def render_text(report: DriftReport) -> str:
    """A title, then aligned columns."""
    title = f"timeoutc drift: {summary(report)}"
    if not report.drifted:
        return title + "\n"
    rows = [HEADERS, *(_cells(row) for row in report.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = [title, ""]
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines) + "\n"


def _markdown_cell(text: str) -> str:
    if text.startswith("(") or text == "-":
        return text
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def render_markdown(report: DriftReport) -> str:
    """A heading, a sentence, and a table (ready for an issue or $GITHUB_STEP_SUMMARY)."""
    lines = [f"### timeoutc drift: {report.environment}", ""]
    if not report.drifted:
        return "\n".join([*lines, f"No drift: {summary(report)}.", ""])
    lines += [f"Deployed services differ from out/: {summary(report)}.", ""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "---|" * len(HEADERS))
    for row in report.rows:
        env, service, *rest = _cells(row)
        cells = [env, service, *(_markdown_cell(cell) for cell in rest)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, ""])


def row_doc(row: Row) -> dict[str, Any]:
    """One row for machines: declared/deployed as shown (None where absent)."""
    return {
        "env": row.environment,
        "service": row.service,
        "cloud_run_name": row.cloud_run_name,
        "field": row.field,
        "kind": row.kind,
        "declared": row.declared,
        "deployed": row.deployed,
        "declared_at": str(row.declared_at) if row.declared_at is not None else None,
        "deployed_at": str(row.deployed_at) if row.deployed_at is not None else None,
    }


def render_json(report: DriftReport) -> str:
    """The whole report as one JSON document."""
    document = {
        "environment": report.environment,
        "source": report.source,
        "services": list(report.services),
        "drifted": report.drifted,
        "warnings": list(report.warnings),
        "rows": [row_doc(row) for row in report.rows],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
