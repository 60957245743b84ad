"""`timeoutc init`: write a working config repository from the package's data files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.pipeline import INPUT_FOLDERS

DATA = "data"
# Folder in the package data -> folder in the new repository.
# File in the package data -> file in the new repository.
README = "README.md"
RENAMED_FILES = {
    "scaffold/README.md": README,
    "scaffold/pre-commit-config.yaml": ".pre-commit-config.yaml",
}
# Created by the first build; init refuses to run where it exists.
GENERATED_FOLDERS = ("out",)


def data_file(relative: str) -> Traversable:
    """A file shipped in compiler/data/."""
    return files("compiler").joinpath(DATA, *relative.split("/"))


def scaffold_files() -> dict[str, bytes]:
    """Every file `init` writes, by its path in the new repository."""
    found: dict[str, bytes] = {}
    for folder in INPUT_FOLDERS:  # the package's data holds them under the same names
        for entry in sorted(data_file(folder).iterdir(), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                found[f"{folder}/{entry.name}"] = entry.read_bytes()
    for source, destination in RENAMED_FILES.items():
        found[destination] = data_file(source).read_bytes()
    return found


def _taken(directory: Path, planned: dict[str, bytes]) -> list[str]:
    """Paths init would write (or whose folders it would fill) that already exist."""
    tops = sorted({path.split("/")[0] for path in planned} | set(GENERATED_FOLDERS))
    return [top for top in tops if (directory / top).exists() or (directory / top).is_symlink()]


def own_readme(directory: Path) -> str | None:
    """The README a folder already has (README, README.md, readme.rst...), if any."""
    if not directory.is_dir():
        return None
    found = sorted(e.name for e in directory.iterdir() if e.name.upper().split(".")[0] == "README")
    return found[0] if found else None


def enclosing_repository(directory: Path) -> Path | None:
    """The config repository (a folder holding profiles/) that `directory` lies inside."""
    from compiler.pipeline import find_root

    absolute = Path(os.path.abspath(directory))
    for start in (absolute.parent, absolute.resolve().parent):
        found = find_root(start)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Scaffold:
    """What `init` wrote, and what it found and kept."""

    written: tuple[str, ...]
    kept: tuple[str, ...]


def create_repository(directory: Path) -> Scaffold:
    """Write the scaffold into `directory`; refuses, writing nothing, if any part exists.

    A README the folder already has is kept (a new GitHub repository starts with one),
    and the scaffold's own README.md is then not written.
    """
    if directory.exists() and not directory.is_dir():
        raise CompileError([Diagnostic(Mark(directory.as_posix()), "is not a folder")])
    outer = enclosing_repository(directory)
    if outer is not None:
        message = (
            f"is inside the config repository {outer.as_posix()}; timeoutc init starts "
            "a repository of its own, never one inside another"
        )
        hint = f"run it outside {outer.as_posix()}, or add profiles to that one"
        raise CompileError([Diagnostic(Mark(directory.as_posix()), message, hint)])
    planned = scaffold_files()
    readme = own_readme(directory)
    if readme is not None:
        del planned[README]
    taken = _taken(directory, planned)
    if taken:
        raise CompileError(
            [
                Diagnostic(
                    Mark((directory / name).as_posix()),
                    "already exists; timeoutc init never overwrites anything",
                    "run it in an empty folder, or move this away",
                )
                for name in taken
            ]
        )
    written: list[Path] = []
    try:
        for relative, content in planned.items():
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as stream:
                written.append(target)
                stream.write(content)
    except OSError as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        where = exc.filename or directory
        message = f"cannot write: {exc.strerror}; nothing was kept"
        raise CompileError([Diagnostic(Mark(str(where)), message)]) from None
    return Scaffold(tuple(sorted(planned)), (readme,) if readme else ())
