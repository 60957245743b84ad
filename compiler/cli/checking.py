"""What `check` says about out/: every stale, missing, extra or hand-edited file."""

from __future__ import annotations

import difflib

import click

from compiler.cli.report import EXIT_OK, EXIT_STALE, Format, format_diagnostics
from compiler.diagnostics import Diagnostic, Mark
from compiler.writer.emit import Change


def unified_diff(change: Change) -> str:
    """A unified diff from the file on disk to what the profiles give."""
    old = (change.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    new = (change.new or b"").decode("utf-8", "replace").splitlines(keepends=True)
    before = f"a/{change.path}" if change.old is not None else "/dev/null"
    after = f"b/{change.path}" if change.new is not None else "/dev/null"
    return "".join(difflib.unified_diff(old, new, before, after))


def report_changes(changes: list[Change], *, show_diff: bool, fmt: str) -> int:
    """Print one line per changed file (and diffs); the exit code of `check`."""
    if not changes:
        if fmt == "json":
            click.echo('{"current": true, "files": []}')
        else:
            click.echo("timeoutc: out/ is current", err=True)
        return EXIT_OK
    if fmt == "json":
        import json

        files = [{"path": c.path, "state": c.kind} for c in changes]
        click.echo(json.dumps({"current": False, "files": files}, indent=2))
        return EXIT_STALE
    diagnostics = [Diagnostic(Mark(c.path), c.describe()) for c in changes]
    for line in format_diagnostics(diagnostics, Format(fmt)):
        click.echo(line, err=fmt == "text")  # GitHub reads workflow commands from stdout
    if show_diff:
        for change in changes:
            click.echo(unified_diff(change), nl=False)
    count = "1 file in out/ is" if len(changes) == 1 else f"{len(changes)} files in out/ are"
    click.echo(f"timeoutc: {count} not current", err=True)
    return EXIT_STALE
