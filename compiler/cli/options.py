"""Click options shared by the commands, one object each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

FC = TypeVar("FC", bound=Callable[..., object])

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The repository to compile (default: the nearest folder upward holding profiles/).",
)


def format_option(choices: list[str], help: str) -> Callable[[FC], FC]:
    """`--format` (as `fmt`) with these choices, the first one the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help,
    )


diagnostics_format_option = format_option(
    ["text", "github", "json"],
    "text for people, github for GitHub Actions annotations, json for machines.",
)

show_diff_option = click.option(
    "--diff", "show_diff", is_flag=True, help="Print a unified diff of every stale file."
)

fixed_option = click.option(
    "--fixed",
    is_flag=True,
    help="Write the timeout as {fixed: VALUE}: pinned, never scaled by the environment.",
)

scaled_option = click.option(
    "--scaled",
    is_flag=True,
    help="Write a pinned timeout as a plain duration, scaled by the environment again "
    "(without it, a pinned timeout stays pinned).",
)

new_key_option = click.option(
    "--new",
    "new",
    is_flag=True,
    help="Allow KEY.PATH to add a service, dependency, timeout or request path "
    "that the profile and its bases do not have yet (otherwise a likely typo).",
)

rebuild_option = click.option(
    "--build", "rebuild", is_flag=True, help="Rebuild out/ after the change."
)

jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Render in this many processes (default: TIMEOUTC_JOBS, else 1). The same bytes "
    "and the same first error in every mode.",
)
