"""Shell completion of profile, environment, service, timeout and key-path arguments.

Each function is a click `shell_complete=` callback: it reads the repository named by
`--root` (when given before the word being completed) or found upward from the current
folder, and never raises: a broken repository just completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]
MAX_EXPAND = 8


def _quiet(function: Callable[[click.Context, str], Iterator[str]]) -> Completer:
    """Turn a generator of candidate words into a click completer that cannot fail."""

    @wraps(function)
    def complete(
        ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        try:
            words = sorted(set(function(ctx, incomplete)))
        except Exception:  # completion must never print a traceback into the shell
            return []
        return [CompletionItem(word) for word in words if word.startswith(incomplete)]

    return complete


def repository(ctx: click.Context) -> Path | None:
    """The repository the command line is about: `--root`, else found from here upward."""
    from compiler.pipeline import PROFILES_DIR, find_root

    root = ctx.params.get("root")
    if root is not None:
        return Path(root) if (Path(root) / PROFILES_DIR).is_dir() else None
    return find_root(Path.cwd())


def arguments(ctx: click.Context) -> list[Any]:
    """The values of the command's positional arguments parsed so far, in order."""
    return [ctx.params.get(p.name) for p in ctx.command.params if isinstance(p, click.Argument)]


def profile_names(root: Path, *, concrete: bool = False) -> list[str]:
    """profiles/<name>.yaml names; with `concrete`, only those that are not abstract."""
    from compiler.files import read_limited
    from compiler.pipeline import PROFILE_NAME, PROFILES_DIR
    from compiler.pipeline.load import load_bytes

    names: list[str] = []
    for path in sorted((root / PROFILES_DIR).glob("*.yaml")):
        if not PROFILE_NAME.fullmatch(path.stem):
            continue
        if concrete:
            try:
                data = load_bytes(read_limited(path, path.name), path.name).data
            except Exception:
                continue
            if data.get("abstract") is True:
                continue
        names.append(path.stem)
    return names


def _services(root: Path, environment: str) -> dict[str, Any]:
    from compiler.authoring.keypaths import merged_view

    services = merged_view(root, environment).get("services")
    return services if isinstance(services, dict) else {}


@_quiet
def complete_profile(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """Every profile, abstract bases included (for `set`)."""
    root = repository(ctx)
    if root is not None:
        yield from profile_names(root)


@_quiet
def complete_environment(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """Concrete profiles: the environments that have outputs (for `explain`, `show`)."""
    root = repository(ctx)
    if root is not None:
        yield from profile_names(root, concrete=True)


@_quiet
def complete_service(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """The services of the environment given as the first argument."""
    root = repository(ctx)
    given = arguments(ctx)
    if root is not None and given and isinstance(given[0], str):
        yield from (name for name in _services(root, given[0]) if isinstance(name, str))


@_quiet
def complete_timeout(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """`dependency.timeout` pairs of the service given as the second argument."""
    root = repository(ctx)
    given = arguments(ctx)
    if root is None or len(given) < 2 or not all(isinstance(g, str) for g in given[:2]):
        return
    service = _services(root, given[0]).get(given[1])
    dependencies = service.get("dependencies") if isinstance(service, dict) else None
    for dependency, settings in (dependencies or {}).items():
        timeouts = settings.get("timeouts") if isinstance(settings, dict) else None
        for timeout in timeouts or {}:
            yield f"{dependency}.{timeout}"


@_quiet
def complete_key_path(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """`set`'s first KEY.PATH."""
    return _key_paths(ctx, incomplete)


def _key_paths(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """Keys one level deeper than what is typed: schema keys and the names the profile uses.

    A sole mapping is expanded, so that the shell stops at the next choice instead of
    after a dot followed by a space.
    """
    import json

    from compiler.authoring.keypaths import merged_view
    from compiler.pipeline.schema import schema_file

    root = repository(ctx)
    given = arguments(ctx)
    if root is None or not given or not isinstance(given[0], str):
        return
    schema = json.loads(schema_file(root).read_text(encoding="utf-8"))
    yield from key_path_candidates(schema, merged_view(root, given[0]), incomplete)


@_quiet
def complete_more(ctx: click.Context, incomplete: str) -> Iterator[str]:
    """Further KEY.PATH VALUE pairs of `set`: a key path where one is due, nothing for a value."""
    if len(ctx.params.get("more") or ()) % 2 == 0:
        yield from _key_paths(ctx, incomplete)


def key_path_candidates(schema: dict[str, Any], view: dict[str, Any], typed: str) -> list[str]:
    """Completions of the key path `typed` against `schema` and the merged profile `view`."""
    from compiler.authoring.keypaths import KeyPathError, children, locate

    parts = typed.split(".")
    for split in range(len(parts) - 1, -1, -1):
        prefix, partial = tuple(parts[:split]), ".".join(parts[split:])
        try:
            if prefix:
                locate(schema, prefix)
        except KeyPathError:
            continue
        found = [(n, m) for n, m in children(schema, prefix, view) if n.startswith(partial)]
        if found:
            return sorted(_expand(schema, view, prefix, found))
    return []


def _expand(
    schema: dict[str, Any],
    view: dict[str, Any],
    prefix: tuple[str, ...],
    found: list[tuple[str, bool]],
) -> list[str]:
    from compiler.authoring.keypaths import children

    for _ in range(MAX_EXPAND):
        if len(found) != 1 or not found[0][1]:
            break
        prefix = (*prefix, found[0][0])
        deeper = list(children(schema, prefix, view))
        if not deeper:
            return [".".join(prefix) + "."]
        found = deeper
    return [".".join((*prefix, name)) + ("." if mapping else "") for name, mapping in found]
