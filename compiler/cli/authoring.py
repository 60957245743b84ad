"""Commands for authors: set, init, schema.

Only click, the shared options and the completion callbacks (which import nothing heavy
until they run) are imported here, so that `timeoutc --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from compiler.cli.completion import complete_key_path, complete_more, complete_profile
from compiler.cli.options import (
    fixed_option,
    new_key_option,
    rebuild_option,
    root_option,
    scaled_option,
)
from compiler.cli.runner import build_repository, reports_errors, resolve_root


@click.command("set", short_help="Change values of a profile in place, checked first.")
@click.argument("profile", shell_complete=complete_profile)
@click.argument("key_path", metavar="KEY.PATH", shell_complete=complete_key_path)
@click.argument("value")
@click.argument("more", nargs=-1, metavar="[KEY.PATH VALUE]...", shell_complete=complete_more)
@fixed_option
@scaled_option
@new_key_option
@rebuild_option
@root_option
@reports_errors
def set_value(
    profile: str,
    key_path: str,
    value: str,
    more: tuple[str, ...],
    fixed: bool,
    scaled: bool,
    new: bool,
    rebuild: bool,
    root: Path | None,
) -> int:
    """Change values of a profile in place, keeping comments and layout.

    KEY.PATH follows the profile's keys, e.g.
    services.api.dependencies.database.timeouts.connect; quote a key that holds a dot
    ('services.api.allow."budget.callee"'). A mapping takes VALUE as YAML flow, e.g.
    services.billing '{image: ..., port: 8080, request_timeout: 60s, health: {startup:
    /health, liveness: /health}}'. Several KEY.PATH VALUE pairs are checked together and
    written at once. A pinned timeout ({fixed: 3s}) stays pinned unless --scaled is given.
    The whole repository is checked with the change before the file is replaced; on any
    error it stays byte for byte as it was (exit 2).
    """
    from compiler.authoring.keypaths import format_key_path
    from compiler.authoring.set import SetRequest, plan_edits, validate_edit, write_edit
    from compiler.diagnostics import plural

    if len(more) % 2:
        raise click.UsageError(f"KEY.PATH '{more[-1]}' has no VALUE")
    pairs = [(key_path, value), *zip(more[::2], more[1::2], strict=True)]
    repo = resolve_root(root)
    edit = plan_edits(
        repo,
        [SetRequest(profile, k, v, fixed=fixed, new=new, scaled=scaled) for k, v in pairs],
    )
    if not edit.changed:
        for done in edit.assignments:
            where = f"{edit.relative}: {format_key_path(done.path)}"
            click.echo(f"timeoutc: {where} is already {done.now}; file unchanged", err=True)
    else:
        compilation = validate_edit(repo, edit)
        write_edit(edit)
        for note in edit.notes:
            click.echo(f"timeoutc: note: {note}", err=True)
        for done in edit.assignments:
            where = f"{edit.relative}: {format_key_path(done.path)}"
            click.echo(f"timeoutc: {where}: {done.was} -> {done.now}", err=True)
        stale = stale_outputs(repo, compilation.outputs)
        if stale and not rebuild:
            are = "is" if stale == 1 else "are"
            click.echo(
                f"timeoutc: {plural(stale, 'file')} in out/ {are} now stale; run timeoutc build",
                err=True,
            )
    if rebuild:
        build_repository(repo)
    return 0


def stale_outputs(repo: Path, outputs: dict[str, bytes]) -> int:
    """How many files of out/ differ from `outputs` (0 when out/ cannot be read)."""
    from compiler.diagnostics import CompileError
    from compiler.writer.manifest import plan

    try:
        return len(plan(repo, outputs).changes())
    except CompileError:
        return 0


@click.command(short_help="Start a new config repository, and build it.")
@click.argument(
    "directory", required=False, default=None, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder to create the repository in (the same as DIRECTORY).",
)
@reports_errors
def init(directory: Path | None, root: Path | None) -> int:
    """Create a working config repository in DIRECTORY (default: here), then build it.

    Writes example profiles, schemas/, templates/, README.md and .pre-commit-config.yaml,
    and builds out/. A README, LICENSE, .gitignore or .git already there is kept (a
    README of your own replaces the scaffold's). Refuses, writing nothing, if any of the
    other files exists, or inside another config repository, its out/ included (exit 2).
    """
    from compiler.authoring.scaffold import README, create_repository

    if directory is not None and root is not None and directory != root:
        raise click.UsageError("give the folder once: as DIRECTORY or as --root")
    directory = directory or root or Path(".")

    scaffold = create_repository(directory)
    build_repository(directory)
    for path in scaffold.written:
        click.echo(f"created {(directory / path).as_posix()}")
    click.echo(f"created {(directory / 'out').as_posix()}/ (timeoutc build)")
    for path in scaffold.kept:
        click.echo(
            f"kept {(directory / path).as_posix()}: yours "
            f"(timeoutc's {README} about this layout was not written)"
        )
    here = directory.resolve() == Path.cwd().resolve()
    go = "" if here else f"cd {directory.as_posix()}, "
    click.echo(f"\nNext: {go}edit profiles/, then timeoutc build and commit.", err=True)
    return 0


@click.command(short_help="Print the profile JSON Schema.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Print this repository's schemas/profile.schema.json instead. Without --root, "
    "timeoutc's own schema is printed, wherever you are.",
)
@reports_errors
def schema(root: Path | None) -> int:
    """Print the profile JSON Schema: timeoutc's own, or with --root that repository's.

    Without --root the built-in schema is printed even inside a repository; refresh a
    repository's copy with timeoutc schema > schemas/profile.schema.json.
    """
    from compiler.authoring.scaffold import data_file

    if root is None:
        click.echo(data_file("schemas/profile.schema.json").read_bytes(), nl=False)
        return 0
    from compiler.pipeline.schema import read_schema, schema_file

    repo = resolve_root(root)
    read_schema(repo)  # a located error if it is not a JSON Schema
    click.echo(schema_file(repo).read_bytes(), nl=False)
    return 0


COMMANDS: list[click.Command] = [set_value, init, schema]
