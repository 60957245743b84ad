"""Commands for authors: set, init, schema.

Only click, the shared options and the completion callbacks (which import nothing heavy
until they run) are imported here, so that `timeoutc --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from compiler.cli.completion import complete_key_path, complete_profile
from compiler.cli.options import fixed_option, new_key_option, rebuild_option, root_option
from compiler.cli.runner import build_repository, reports_errors, resolve_root


@click.command("set")
@click.argument("profile", shell_complete=complete_profile)
@click.argument("key_path", metavar="KEY.PATH", shell_complete=complete_key_path)
@click.argument("value")
@fixed_option
@new_key_option
@rebuild_option
@root_option
@reports_errors
def set_value(
    profile: str,
    key_path: str,
    value: str,
    fixed: bool,
    new: bool,
    rebuild: bool,
    root: Path | None,
) -> int:
    """Change one value of a profile in place, keeping comments and layout.

    KEY.PATH follows the profile's keys, e.g.
    services.api.dependencies.database.timeouts.connect; quote a key that holds a dot
    ('services.api.allow."budget.callee"'). The whole repository is checked with the
    change before the file is replaced; on any error it stays byte for byte as it was
    (exit 2).
    """
    from compiler.authoring.keypaths import format_key_path
    from compiler.authoring.set import SetRequest, plan_edit, validate_edit, write_edit

    repo = resolve_root(root)
    edit = plan_edit(repo, SetRequest(profile, key_path, value, fixed=fixed, new=new))
    where = f"{edit.relative}: {format_key_path(edit.path)}"
    if not edit.changed:
        click.echo(f"timeoutc: {where} is already {edit.now}; file unchanged", err=True)
    else:
        compilation = validate_edit(repo, edit)
        write_edit(edit)
        for note in edit.notes:
            click.echo(f"timeoutc: note: {note}", err=True)
        click.echo(f"timeoutc: {where}: {edit.was} -> {edit.now}", err=True)
        stale = stale_outputs(repo, compilation.outputs)
        if stale and not rebuild:
            click.echo(
                f"timeoutc: {stale} files in out/ are now stale; run timeoutc build", err=True
            )
    if rebuild:
        build_repository(repo)
    return 0


def stale_outputs(repo: Path, outputs: dict[str, bytes]) -> int:
    """How many files of out/ differ from `outputs` (0 when out/ cannot be read)."""
    from compiler.diagnostics import CompileError
    from compiler.pipeline.manifest import plan

    try:
        return len(plan(repo, outputs).changes())
    except CompileError:
        return 0


@click.command()
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
    and builds out/. Refuses, writing nothing, if any of them exists (exit 2).
    """
    from compiler.authoring.scaffold import create_repository

    if directory is not None and root is not None and directory != root:
        raise click.UsageError("give the folder once: as DIRECTORY or as --root")
    directory = directory or root or Path(".")

    created = create_repository(directory)
    build_repository(directory)
    for path in created:
        click.echo(f"created {(directory / path).as_posix()}")
    click.echo(f"created {(directory / 'out').as_posix()}/ (timeoutc build)")
    click.echo(
        f"\nNext: cd {directory.as_posix()}, edit profiles/, then timeoutc build and commit.",
        err=True,
    )
    return 0


@click.command()
@root_option
@reports_errors
def schema(root: Path | None) -> int:
    """Print the profile JSON Schema: timeoutc's own, or with --root that repository's."""
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
