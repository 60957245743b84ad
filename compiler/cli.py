"""The command line: parse options, call the pipeline, turn errors into exit codes.

Heavy libraries are imported inside the commands that need them, so that `--help`
and `validate` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from compiler import __version__
from compiler.options import diagnostics_format_option, root_option, show_diff_option

F = TypeVar("F", bound=Callable[..., int])


def resolve_root(root: Path | None) -> Path:
    """`--root`, or the nearest folder upward that holds profiles/."""
    from compiler.pipeline import PROFILES_DIR, find_root

    if root is not None:
        if not (root / PROFILES_DIR).is_dir() and not (root / PROFILES_DIR).is_symlink():
            raise click.UsageError(f"{root} has no {PROFILES_DIR}/ folder")
        return root.resolve()
    found = find_root(Path.cwd())
    if found is None:
        raise click.UsageError(f"no {PROFILES_DIR}/ folder here or above; pass --root")
    return found


def reports_errors(command: F) -> F:
    """Print a `CompileError`'s diagnostics to stderr and exit 2; never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        from compiler.diagnostics import CompileError
        from compiler.report import EXIT_INVALID, Format, format_diagnostics

        fmt = (
            Format(kwargs.get("fmt", "text"))
            if kwargs.get("fmt") in ("text", "github", "json")
            else Format.TEXT
        )
        try:
            code = command(*args, **kwargs)
        except CompileError as exc:
            for line in format_diagnostics(exc.diagnostics, fmt):
                click.echo(line, err=fmt is Format.TEXT)  # annotations: stdout
            code = EXIT_INVALID
        except RecursionError:
            click.echo("timeoutc: error: input nested too deeply", err=True)
            code = EXIT_INVALID
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: say so plainly, without a traceback
            if os.environ.get("TIMEOUTC_DEBUG"):
                raise
            click.echo(
                f"timeoutc: internal error: {type(exc).__name__}: {exc} "
                "(set TIMEOUTC_DEBUG=1 for details)",
                err=True,
            )
            code = 70
        sys.exit(code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="timeoutc")
def main() -> None:
    """timeoutc compiles timeout profiles into Cloud Run YAML, env files and Python constants.

    Profiles live in profiles/<environment>.yaml; outputs go to out/<environment>/<service>/.
    """


@main.command()
@root_option
@reports_errors
def build(root: Path | None) -> int:
    """Validate, resolve, render and write out/ (exit 0 done, 2 invalid input)."""
    build_repository(resolve_root(root))
    return 0


def build_repository(repo: Path) -> None:
    """Compile `repo` and write its out/ (shared by build, set --build and init)."""
    from compiler.emit import compare, locked, read_out, remove_stale_temps, write
    from compiler.pipeline import compile_repository

    compilation = compile_repository(repo)
    with locked(repo):
        remove_stale_temps(repo)
        changes = compare(read_out(repo), compilation.outputs)
        write(repo, changes)
    written = sum(1 for c in changes if c.new is not None)
    removed = sum(1 for c in changes if c.kind == "extra")
    click.echo(
        f"timeoutc: {len(compilation.outputs)} files from {len(compilation.profiles)} "
        f"profiles: {written} written, {removed} removed, "
        f"{len(compilation.outputs) - written} unchanged",
        err=True,
    )


@main.command()
@root_option
@show_diff_option
@diagnostics_format_option
@reports_errors
def check(root: Path | None, show_diff: bool, fmt: str) -> int:
    """Compile in memory and compare with out/ (exit 0 current, 1 stale, 2 invalid)."""
    from compiler.checking import report_changes
    from compiler.emit import compare, read_out
    from compiler.pipeline import compile_repository

    repo = resolve_root(root)
    compilation = compile_repository(repo)
    changes = compare(read_out(repo), compilation.outputs)
    return report_changes(changes, show_diff=show_diff, fmt=fmt)


@main.command()
@root_option
@diagnostics_format_option
@reports_errors
def validate(root: Path | None, fmt: str) -> int:
    """Run every check of build without rendering (exit 0 valid, 2 invalid)."""
    from compiler.pipeline import compile_repository
    from compiler.report import Format, format_diagnostics

    compilation = compile_repository(resolve_root(root), render=False)
    if fmt == "json":
        click.echo(format_diagnostics([], Format.JSON)[0])
    elif fmt == "text":
        services = sum(len(p.services) for p in compilation.profiles)
        click.echo(
            f"timeoutc: {len(compilation.profiles)} profiles, {services} services: valid", err=True
        )
    return 0


def _register_command_groups() -> None:
    """Commands that live in their own modules (each imports only click at load time)."""
    from compiler import cli_authoring, cli_review

    for module in (cli_review, cli_authoring):
        for command in module.COMMANDS:
            main.add_command(command)


_register_command_groups()
