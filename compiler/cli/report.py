"""Diagnostics as text, GitHub Actions annotations or JSON; the exit codes live here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum

from compiler.diagnostics import Diagnostic

EXIT_OK = 0
EXIT_STALE = 1
EXIT_INVALID = 2


class Format(StrEnum):
    """How diagnostics are printed."""

    TEXT = "text"
    GITHUB = "github"
    JSON = "json"


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_annotation(diagnostic: Diagnostic) -> str:
    """`::error file=F,line=L,col=C,title=T::message`, as GitHub Actions reads it."""
    mark = diagnostic.mark
    fields = [f"file={_github_escape(mark.path, property_value=True)}"]
    if mark.line:
        fields.append(f"line={mark.line}")
    if mark.column:
        fields.append(f"col={mark.column}")
    title = diagnostic.rule or "timeoutc"
    fields.append(f"title={_github_escape(title, property_value=True)}")
    message = diagnostic.message + (f"; {diagnostic.hint}" if diagnostic.hint else "")
    return f"::{diagnostic.severity} {','.join(fields)}::{_github_escape(message)}"


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    """A JSON document: `{"valid": bool, "diagnostics": [...]}`."""
    items = [
        {
            "path": d.mark.path,
            "line": d.mark.line,
            "column": d.mark.column,
            "severity": d.severity,
            "rule": d.rule or None,
            "message": d.message,
            "hint": d.hint or None,
        }
        for d in diagnostics
    ]
    valid = not any(d.severity == "error" for d in diagnostics)
    return json.dumps({"valid": valid, "diagnostics": items}, indent=2)


def format_diagnostics(diagnostics: Sequence[Diagnostic], fmt: Format) -> list[str]:
    """The lines to print for `diagnostics` in `fmt` (JSON is one document)."""
    ordered = sorted(diagnostics)
    if fmt is Format.JSON:
        return [as_json(ordered)]
    if fmt is Format.GITHUB:
        return [github_annotation(d) for d in ordered]
    return [str(d) for d in ordered]
