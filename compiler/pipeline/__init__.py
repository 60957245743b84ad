"""The compiler as one line: load -> merge -> validate -> resolve -> budgets -> render -> verify."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.files import is_link, read_limited
from compiler.model import Profile
from compiler.pipeline.budgets import check_budgets
from compiler.pipeline.collector import rare_collections
from compiler.pipeline.load import Document, load_bytes
from compiler.pipeline.merge import Chains, Merger, is_abstract
from compiler.pipeline.resolve import resolve_profile

PROFILES_DIR = "profiles"
INPUT_FOLDERS = (PROFILES_DIR, "schemas", "templates")  # everything a build reads
Resolved = tuple[Profile | None, list[Diagnostic]]
PROFILE_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Compilation:
    """The resolved profiles of a repository and, when rendered, its outputs."""

    profiles: tuple[Profile, ...]
    outputs: dict[str, bytes]


def find_root(start: Path) -> Path | None:
    """The nearest folder from `start` upward that holds profiles/."""
    for folder in (start, *start.parents):
        if (folder / PROFILES_DIR).is_dir() or (folder / PROFILES_DIR).is_symlink():
            return folder  # a broken or looping link is this repository's error to report
    return None


def profile_files(root: Path) -> dict[str, Path]:
    """profiles/<name>.yaml by environment name. A file ending in a YAML extension of any
    case that is not that (`prod.yml`, `prod.YAML`, a bad name), or a link to a file
    outside the repository, is an error: every such file is loaded or reported."""
    folder = root / PROFILES_DIR
    try:
        with os.scandir(folder) as listing:
            links = {e.name: is_link(e) for e in listing}
    except OSError as exc:
        message = f"cannot read: {exc.strerror}"
        raise CompileError([Diagnostic(Mark(PROFILES_DIR), message)]) from None
    inside = Path(os.path.realpath(root))
    folder_inside = Path(os.path.realpath(folder)).is_relative_to(inside)
    found: dict[str, Path] = {}
    errors: list[Diagnostic] = []
    for name in sorted(links):
        entry = folder / name
        if entry.suffix.lower() not in YAML_SUFFIXES:
            continue
        where = Mark(f"{PROFILES_DIR}/{entry.name}")
        if entry.suffix != ".yaml":
            errors.append(
                Diagnostic(where, "profiles end in .yaml", f"rename it {entry.stem}.yaml")
            )
        elif not PROFILE_NAME.fullmatch(entry.stem):
            errors.append(
                Diagnostic(
                    where,
                    f"invalid environment name '{entry.stem}'",
                    "lowercase letters, digits and '-', starting with a letter, "
                    "at most 30 characters",
                )
            )
        elif (links[name] or not folder_inside) and _leaves(entry, inside):
            errors.append(
                Diagnostic(
                    where,
                    "is a symbolic link to a file outside the repository; timeoutc reads "
                    "nothing outside it",
                    "copy the file into profiles/, or link to a file inside the repository",
                )
            )
        else:
            found[entry.stem] = entry
    if errors:
        raise CompileError(errors)
    return found


def _leaves(entry: Path, inside: Path) -> bool:
    """Whether `entry` resolves to a regular file outside the folder `inside` (a link
    that loops, dangles or names a device is left to the reader to report)."""
    target = Path(os.path.realpath(entry))
    try:
        regular = stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False
    return regular and not target.is_relative_to(inside)


def load_profiles(root: Path) -> dict[str, Document]:
    """Every profile, loaded and schema-checked; all errors of all files at once."""
    from compiler.pipeline.schema import raise_for_schema, validators_for

    schemas = validators_for(root)
    documents: dict[str, Document] = {}
    errors: list[Diagnostic] = []
    files = profile_files(root)
    for name, path in files.items():
        relative = f"{PROFILES_DIR}/{path.name}"
        try:
            raw = read_limited(path, relative)
            document = load_bytes(raw, relative)
            for schema in schemas:
                raise_for_schema(document, schema)
        except CompileError as exc:
            errors.extend(exc.diagnostics)
            continue
        documents[name] = document
    if errors:
        raise CompileError([*errors, *_errors_beside(documents, set(files) - set(documents))])
    if not documents:
        raise CompileError([Diagnostic(Mark(PROFILES_DIR), "no profiles (*.yaml) found")])
    return documents


def _errors_beside(documents: dict[str, Document], failed: set[str]) -> list[Diagnostic]:
    """The later-stage errors of profiles that loaded and extend none that failed to load."""
    reaches: dict[str, bool] = {}
    for name in documents:
        path: list[str] = []
        current: Any = name
        while current in documents and current not in reaches and current not in path:
            path.append(current)
            current = documents[current].data.get("extends")
        found = reaches.get(current, current in failed)
        reaches.update(dict.fromkeys(path, found))
    try:
        resolve_all({n: d for n, d in documents.items() if not reaches[n]})
    except CompileError as exc:
        return list(exc.diagnostics)
    return []


def resolve_all(documents: dict[str, Document], *, budgets: bool = True) -> tuple[Profile, ...]:
    """Merge, resolve and budget-check every concrete profile; all errors at once.
    Without `budgets`, a broken budget rule is no error (a revision `diff` compares).

    Chains are checked once for all profiles and merged with memoization: linear in
    the number of profiles, however long their `extends` chains.
    """
    chains = Chains(documents)
    merger = Merger(documents, chains)
    results = [_resolve(name, documents, chains, merger, budgets) for name in documents]
    collisions = shared_cloud_run_names([p for p, _ in results if p is not None])
    return gather([*results, (None, collisions)])


def shared_cloud_run_names(profiles: list[Profile]) -> list[Diagnostic]:
    """Two profiles that deploy one Cloud Run name into one project and region would
    replace each other on every deploy: an error naming both profiles and the service."""
    owners: dict[tuple[str, str | None, str], tuple[Profile, str]] = {}
    errors: list[Diagnostic] = []
    for profile in profiles:
        project, region = profile.platform.project, profile.platform.region
        if project is None:  # no project: where it deploys is the deployer's choice
            continue
        for service in profile.services:
            name = service.cloud_run_name
            first, first_service = owners.setdefault(
                (project, region, name), (profile, service.name)
            )
            if first is profile:
                continue
            mark = service.marks["service"]
            where = mark if mark.path == profile.path else Mark(profile.path)
            place = f"project '{project}'" + (f", region '{region}'" if region else "")
            keys = sorted({first_service, service.name} - {name})
            named = f" (service {' and '.join(map(repr, keys))})" if keys else ""
            errors.append(
                Diagnostic(
                    where,
                    f"profiles '{first.name}' and '{profile.name}' both deploy Cloud Run "
                    f"service '{name}'{named} into {place}: each deploy would "
                    "replace the other",
                    "give one of them another platform.service_name, project or region",
                )
            )
    return errors


def resolve_one(name: str, documents: Mapping[str, Document]) -> Resolved:
    """`resolve_all` for one profile: the profile (None for a base, or on error), its errors."""
    chains = Chains(documents)
    errors = chains.errors_reaching(name)
    if errors:
        return None, errors
    return _resolve(name, documents, chains, Merger(documents, chains))


def _resolve(
    name: str,
    documents: Mapping[str, Document],
    chains: Chains,
    merger: Merger,
    budgets: bool = True,
) -> Resolved:
    if name not in chains.whole:
        return None, chains.errors.get(name, [])
    if is_abstract(documents[name]):
        return None, []
    try:
        profile = resolve_profile(merger.merged(name))
    except CompileError as exc:
        return None, list(exc.diagnostics)
    return profile, check_budgets(profile) if budgets else []


def gather(results: Iterable[Resolved]) -> tuple[Profile, ...]:
    """The profiles of `resolve_one`'s results, in order; raise with every error, if any."""
    profiles: list[Profile] = []
    errors: list[Diagnostic] = []
    for profile, found in results:
        errors.extend(found)
        if profile is not None:
            profiles.append(profile)
    if errors:
        raise CompileError(errors)
    return tuple(profiles)


def render_all(root: Path, profiles: tuple[Profile, ...], jobs: int | None) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes, in `jobs`
    processes (None: TIMEOUTC_JOBS, else one)."""
    from compiler.pipeline.outputs import jobs_from_environment, render_outputs  # Jinja2

    return render_outputs(root, profiles, jobs_from_environment() if jobs is None else jobs)


def compile_repository(
    root: Path, *, render: bool = True, budgets: bool = True, jobs: int | None = None
) -> Compilation:
    """Run the whole pipeline on the repository at `root` (without `budgets`, a broken
    budget rule is no error; `jobs` processes render, None: TIMEOUTC_JOBS, else one)."""
    with rare_collections():
        profiles = resolve_all(load_profiles(root), budgets=budgets)
        outputs = render_all(root, profiles, jobs) if render else {}
    return Compilation(profiles, outputs)
