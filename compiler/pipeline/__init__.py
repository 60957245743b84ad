"""The compiler as one line: load -> merge -> validate -> resolve -> budgets -> render -> verify."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.model import Profile
from compiler.pipeline.budgets import check_budgets
from compiler.pipeline.collector import rare_collections
from compiler.pipeline.load import Document, load_bytes, read_limited
from compiler.pipeline.merge import extends_chain, is_abstract, merge_chain
from compiler.pipeline.resolve import resolve_profile

PROFILES_DIR = "profiles"
Resolved = tuple[Profile | None, list[Diagnostic]]
PROFILE_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")


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
    """profiles/<name>.yaml by environment name; a badly named file is an error."""
    folder = root / PROFILES_DIR
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        message = f"cannot read: {exc.strerror}"
        raise CompileError([Diagnostic(Mark(PROFILES_DIR), message)]) from None
    found: dict[str, Path] = {}
    errors: list[Diagnostic] = []
    for entry in entries:
        if entry.name.startswith(".") or entry.suffix not in (".yaml", ".yml"):
            continue
        where = Mark(f"{PROFILES_DIR}/{entry.name}")
        if entry.suffix == ".yml":
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
        else:
            found[entry.stem] = entry
    if errors:
        raise CompileError(errors)
    return found


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

    def reaches_failed(name: str | None) -> bool:
        seen: set[str] = set()
        while name in documents and name not in seen:
            seen.add(name)
            name = documents[name].data.get("extends")
        return name in failed

    try:
        resolve_all({n: d for n, d in documents.items() if not reaches_failed(n)})
    except CompileError as exc:
        return list(exc.diagnostics)
    return []


def resolve_all(documents: dict[str, Document]) -> tuple[Profile, ...]:
    """Merge, resolve and budget-check every concrete profile; all errors at once."""
    return gather(resolve_one(name, documents) for name in documents)


def resolve_one(name: str, documents: Mapping[str, Document]) -> Resolved:
    """`resolve_all` for one profile: the profile (None for a base, or on error), its errors."""
    try:
        chain = extends_chain(name, documents)
        if is_abstract(documents[name]):
            return None, []
        profile = resolve_profile(merge_chain(chain, documents))
    except CompileError as exc:
        return None, list(exc.diagnostics)
    return profile, check_budgets(profile)


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


def render_all(root: Path, profiles: tuple[Profile, ...]) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes."""
    from compiler.pipeline.outputs import render_outputs  # Jinja2: only when rendering

    return render_outputs(root, profiles)


def compile_repository(root: Path, *, render: bool = True) -> Compilation:
    """Run the whole pipeline on the repository at `root`."""
    with rare_collections():
        profiles = resolve_all(load_profiles(root))
        outputs = render_all(root, profiles) if render else {}
    return Compilation(profiles, outputs)
