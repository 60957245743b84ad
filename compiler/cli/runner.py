"""What every command shares: finding the repository, building it, reporting errors.

Only click is imported at module level; the pipeline is imported when a command runs.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., int])
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a closed pipe
EXIT_INTERNAL = 70


def resolve_root(root: Path | None) -> Path:
    """`--root`, or the nearest folder upward that holds profiles/."""
    from compiler.pipeline import PROFILES_DIR, find_root

    if root is not None:
        if not root.exists() and not root.is_symlink():
            raise click.UsageError(f"--root {root} does not exist")
        if not root.is_dir():
            raise click.UsageError(f"--root {root} is not a folder")
        if not (root / PROFILES_DIR).is_dir() and not (root / PROFILES_DIR).is_symlink():
            raise click.UsageError(
                f"{root} has no {PROFILES_DIR}/ folder: it is not a config repository; "
                f"run timeoutc init {root} to start one there"
            )
        return root.resolve()
    found = find_root(Path.cwd())
    if found is None:
        raise click.UsageError(
            f"no {PROFILES_DIR}/ folder here or above: this is not a config repository; "
            "run timeoutc init to start one here, or pass --root"
        )
    return found


def reports_errors(command: F) -> F:
    """Print a `CompileError`'s diagnostics to stderr and exit 2; never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        from compiler.cli.report import EXIT_INVALID, Format, format_diagnostics
        from compiler.diagnostics import CompileError

        fmt = (
            Format(kwargs.get("fmt", "text"))
            if kwargs.get("fmt") in ("text", "github", "json")
            else Format.TEXT
        )
        try:
            code = command(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        except CompileError as exc:
            for line in format_diagnostics(exc.diagnostics, fmt):
                click.echo(line, err=fmt is Format.TEXT)  # annotations: stdout
            code = EXIT_INVALID
        except BrokenPipeError:  # `timeoutc check --diff | head`: stop quietly, as git does
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            code = EXIT_BROKEN_PIPE
        except RecursionError:
            click.echo("timeoutc: error: input nested too deeply", err=True)
            code = EXIT_INVALID
        except KeyboardInterrupt as exc:  # Ctrl-C; a build says whether out/ changed
            from compiler.writer.publish import Interrupted

            name = signal.Signals(exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
            after = "; nothing was changed" if isinstance(exc, Interrupted) else ""
            click.echo(f"timeoutc: interrupted by {name.name}{after}", err=True)
            code = 128 + name
        except (click.ClickException, click.exceptions.Exit):
            raise
        except Exception as exc:  # a bug: say so plainly, without a traceback
            if os.environ.get("TIMEOUTC_DEBUG") == "1":
                raise
            click.echo(
                f"timeoutc: internal error: {type(exc).__name__}: {exc} "
                "(set TIMEOUTC_DEBUG=1 for details)",
                err=True,
            )
            code = EXIT_INTERNAL
        sys.exit(code)

    return wrapper  # type: ignore[return-value]


def build_repository(repo: Path, jobs: int | None = None) -> None:
    """Compile `repo` and write its out/ (shared by build, set --build and init); `jobs`
    processes render (None: TIMEOUTC_JOBS, else one)."""
    from compiler.diagnostics import plural
    from compiler.pipeline import compile_repository
    from compiler.writer.emit import locked, remove_stale_temps
    from compiler.writer.manifest import apply, plan
    from compiler.writer.publish import interruptible

    with interruptible() as guard:  # a signal raises Interrupted; out/ stays as it was
        compilation = compile_repository(repo, jobs=jobs)
        with locked(repo):
            remove_stale_temps(repo)
            planned = plan(repo, compilation.outputs)
            apply(repo, planned, guard.out_written)
    changes = planned.outputs
    written = sum(1 for c in changes if c.new is not None)
    removed = sum(1 for c in changes if c.kind == "extra")
    click.echo(
        f"timeoutc: {plural(len(compilation.outputs), 'file')} from "
        f"{plural(len(compilation.profiles), 'profile')}: {written} written, {removed} removed, "
        f"{len(compilation.outputs) - written} unchanged",
        err=True,
    )
