"""The command line: parse options, call the pipeline, turn errors into exit codes.

Heavy libraries are imported inside the commands that need them, so that `--help`
and `validate` start fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from compiler import __version__
from compiler.cli.options import (
    diagnostics_format_option,
    jobs_option,
    root_option,
    show_diff_option,
)
from compiler.cli.runner import build_repository, reports_errors, resolve_root

# Every environment variable timeoutc reads, and every exit code; `\b` keeps click from
# rewrapping the lines. tests/test_help.py checks the list against the code.
EPILOG = """\b
Environment variables:
  NO_COLOR            set and not empty: no colour in diff's terminal output
  TIMEOUTC_DEBUG      1: an internal error shows its traceback
  TIMEOUTC_JOBS       processes that render a build or check (default 1; --jobs)
  TIMEOUTC_TEMPLATE_SECONDS
                      CPU seconds all template renders of a build may take
                      (default 5, at most 3600)
  _TIMEOUTC_COMPLETE  bash_source, zsh_source or fish_source: print the shell
                      completion script (see the README)

\b
Exit codes:
  0    done; check: out/ is current
  1    check: out/ is stale; diff --exit-code: values changed; drift --exit-code:
       the deployed services differ from out/
  2    invalid input or usage (path:line:col: error: message); nothing written
  70   internal error (a bug in timeoutc; TIMEOUTC_DEBUG=1 shows where)
  129  interrupted by SIGHUP, 130 by SIGINT (Ctrl-C), 143 by SIGTERM
  141  the output pipe was closed early (e.g. | head)
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="timeoutc")
def main() -> None:
    """timeoutc compiles timeout profiles into Cloud Run YAML, env files and Python constants.

    Profiles live in profiles/<environment>.yaml; outputs go to out/<environment>/<service>/.
    """


@main.command(short_help="Compile profiles/ and write out/.")
@root_option
@jobs_option
@reports_errors
def build(root: Path | None, jobs: int | None) -> int:
    """Validate, resolve, render and write out/ (exit 0 done, 2 invalid input)."""
    build_repository(resolve_root(root), jobs)
    return 0


@main.command(short_help="Check that out/ is what the profiles give (for CI).")
@root_option
@show_diff_option
@diagnostics_format_option
@jobs_option
@reports_errors
def check(root: Path | None, show_diff: bool, fmt: str, jobs: int | None) -> int:
    """Compile in memory and compare with out/ (exit 0 current, 1 stale, 2 invalid)."""
    from compiler.cli.checking import report_changes
    from compiler.pipeline import compile_repository
    from compiler.writer.manifest import plan

    repo = resolve_root(root)
    compilation = compile_repository(repo, jobs=jobs)
    changes = plan(repo, compilation.outputs).changes()
    return report_changes(changes, show_diff=show_diff, fmt=fmt)


@main.command(short_help="Run every check of build but render nothing; write nothing.")
@root_option
@diagnostics_format_option
@reports_errors
def validate(root: Path | None, fmt: str) -> int:
    """Load, validate, resolve and check every budget rule, as build does, but render and
    verify no template (exit 0 valid, 2 invalid)."""
    from compiler.cli.report import Format, format_diagnostics
    from compiler.diagnostics import plural
    from compiler.pipeline import compile_repository

    compilation = compile_repository(resolve_root(root), render=False)
    if fmt == "json":
        click.echo(format_diagnostics([], Format.JSON)[0])
    elif fmt == "text":
        services = sum(len(p.services) for p in compilation.profiles)
        profiles = plural(len(compilation.profiles), "profile")
        click.echo(f"timeoutc: {profiles}, {plural(services, 'service')}: valid", err=True)
    return 0


def _register_command_groups() -> None:
    """Commands that live in their own modules (each imports only click at load time)."""
    from compiler.cli import authoring as cli_authoring
    from compiler.cli import review as cli_review

    for module in (cli_review, cli_authoring):
        for command in module.COMMANDS:
            main.add_command(command)


_register_command_groups()
