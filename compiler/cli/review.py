"""Commands for reviewers: diff, explain, show, drift.

Only click and the shared options are imported here; each command imports what it needs
when it runs, so that `timeoutc --help` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from compiler.cli.completion import complete_environment, complete_service, complete_timeout
from compiler.cli.options import format_option, root_option
from compiler.cli.runner import reports_errors, resolve_root


def wants_color(isatty: bool, environ: dict[str, str] | os._Environ[str]) -> bool:
    """Colour on a terminal, unless NO_COLOR is set to anything (https://no-color.org)."""
    return isatty and not environ.get("NO_COLOR")


@click.command(short_help="Show resolved values changed since a git revision.")
@click.option(
    "--base",
    metavar="REF",
    default=None,
    help="The git revision to compare with (default: the merge-base with the upstream "
    "branch, else HEAD).",
)
@format_option(
    ["text", "markdown", "json"],
    "text for terminals, markdown for a PR comment or job summary, json for machines.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when any resolved value changed.")
@click.option(
    "--margins",
    "all_margins",
    is_flag=True,
    help="List every budget margin that changed (default: only those that shrank).",
)
@root_option
@reports_errors
def diff(base: str | None, fmt: str, exit_code: bool, all_margins: bool, root: Path | None) -> int:
    """Resolved values at a git revision vs the working tree, with exact % changes.

    The changed values come first, then what they derive (startup, Cloud Run), then the
    budget margins that shrank (--margins: every changed one). The text table fits 100
    columns; json always lists every change. Exit 0, or 1 with --exit-code when anything
    changed; 2 for a bad revision or invalid profiles on either side (errors at the
    revision read REV:path:line:col).
    """
    import sys

    from compiler.diagnostics import CompileError, Diagnostic
    from compiler.model import Profile
    from compiler.pipeline import compile_repository
    from compiler.review.diff import compare
    from compiler.review.diff_report import plain, render_json, render_markdown, render_text
    from compiler.review.snapshot import compile_revision, resolve_revision

    repo = resolve_root(root)
    revision = resolve_revision(repo, base)
    before: tuple[Profile, ...] = ()  # both sides are compiled: all errors, not the first
    after: tuple[Profile, ...] = ()
    errors: list[Diagnostic] = []
    try:
        before = compile_revision(repo, revision)
    except CompileError as exc:
        errors.extend(exc.diagnostics)
    try:
        after = compile_repository(repo, render=False).profiles
    except CompileError as exc:
        errors.extend(exc.diagnostics)
    if errors:
        raise CompileError(errors)
    changes = compare(before, after)
    if fmt == "json":
        text = render_json(changes, revision.label, revision.commit)
        color = False
    elif fmt == "markdown":
        text = render_markdown(changes, revision.short, all_margins=all_margins)
        color = False
    else:
        color = wants_color(sys.stdout.isatty(), os.environ)
        style = click.style if color else plain
        text = render_text(changes, revision.short, style=style, all_margins=all_margins)
    click.echo(text, nl=False, color=color)
    return 1 if exit_code and changes.changed else 0


COMMANDS: list[click.Command] = [diff]


@click.command(short_help="Show where each resolved value comes from.")
@click.argument("environment", shell_complete=complete_environment)
@click.argument("service", shell_complete=complete_service)
@click.argument("timeout", metavar="[DEP.TIMEOUT]", required=False, shell_complete=complete_timeout)
@format_option(["text", "json"], "text for people, json for machines.")
@root_option
@reports_errors
def explain(
    environment: str, service: str, timeout: str | None, fmt: str, root: Path | None
) -> int:
    """Show where each resolved value of a service comes from, step by step.

    Every operand with its path:line:col; the startup chain, total and budget; the Cloud
    Run settings; each budget rule with its margin, and rules switched off with allow.
    Exit 0, or 2 for an unknown environment, service or timeout.
    """
    import json

    from compiler.review.explain import explanation, find_service, load, render_text

    profile, merged = load(resolve_root(root), environment)
    document = explanation(profile, merged, find_service(profile, service), timeout)
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(document), nl=False)
    return 0


@click.command(short_help="Print an environment's merged, resolved profile.")
@click.argument("environment", shell_complete=complete_environment)
@click.argument("service", required=False, shell_complete=complete_service)
@format_option(["yaml", "json"], "yaml for people, json for machines (jq).")
@root_option
@reports_errors
def show(environment: str, service: str | None, fmt: str, root: Path | None) -> int:
    """Print the merged, resolved profile of ENVIRONMENT (durations in seconds).

    Like `helmfile values`: factors, platform and every service (or only SERVICE) with
    its resolved timeouts. Exit 0, or 2 for an unknown environment or service.
    """
    from compiler.review.explain import find_service, load
    from compiler.review.show import as_json, as_yaml, profile_doc

    profile, _ = load(resolve_root(root), environment)
    services = (find_service(profile, service),) if service else profile.services
    document = profile_doc(profile, services)
    click.echo(as_json(document) if fmt == "json" else as_yaml(document), nl=False)
    return 0


COMMANDS.extend([explain, show])


@click.command(short_help="Compare deployed services with out/, by meaning.")
@click.argument("environment", shell_complete=complete_environment)
@click.argument("services", nargs=-1, metavar="[SERVICE]...", shell_complete=complete_service)
@click.option(
    "--from",
    "folder",
    metavar="DIR",
    type=click.Path(path_type=Path),
    default=None,
    help="A folder of exports, one <cloud-run-name>.yaml per service, as "
    "`gcloud run services describe NAME --format export` writes them.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Run `gcloud run services describe` for each service (project, region and name "
    "from the profile).",
)
@format_option(
    ["text", "markdown", "json"],
    "text for terminals, markdown for an issue or job summary, json for machines.",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything drifted.")
@root_option
@reports_errors
def drift(
    environment: str,
    services: tuple[str, ...],
    folder: Path | None,
    live: bool,
    fmt: str,
    exit_code: bool,
    root: Path | None,
) -> int:
    """Compare the deployed services of ENVIRONMENT with out/, by meaning.

    Every field out/ declares is compared (and env vars out/ lacks); server-managed
    fields and Cloud Run defaults are not drift. Each row names the profile line that
    declares the value. Exit 0, or 1 with --exit-code and drift; 2 for invalid profiles,
    an unreadable export, or gcloud failing.
    """
    from compiler.review.drift.check import Source, check
    from compiler.review.drift.report import render_json, render_markdown, render_text

    if (folder is None) == (not live):
        raise click.UsageError("pass exactly one of --from DIR and --live")
    report = check(resolve_root(root), environment, services, Source(folder))
    for warning in report.warnings:
        click.echo(f"timeoutc: warning: {warning}", err=True)
    renderers = {"json": render_json, "markdown": render_markdown, "text": render_text}
    click.echo(renderers[fmt](report), nl=False)
    return 1 if exit_code and report.drifted else 0


COMMANDS.append(drift)
