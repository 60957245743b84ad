"""Where a value that `explain` and `drift` show was set: its place, or "(default)"."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from compiler.diagnostics import Mark
from compiler.pipeline.merge import MergedProfile


def shown(mark: Mark | None) -> str | None:
    """`profiles/prod.yaml:12:7`, or None for a value nobody set."""
    return str(mark) if mark else None


def where(at: str | None, set_by: str | None = None) -> str:
    """A shown place for people: `(default)` when there is none."""
    if at is None:
        return "(default)"
    return f"{at} (set by {set_by})" if set_by else at


def set_by(mark: Mark | None) -> str | None:
    """The profile whose file holds `mark`: `base` for profiles/base.yaml."""
    return PurePosixPath(mark.path).stem if mark else None


def holds(merged: MergedProfile, path: tuple[str, ...]) -> bool:
    """Whether the merged profile sets the value at `path`."""
    data: Any = merged.data
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def value_mark(merged: MergedProfile, path: tuple[str, ...]) -> Mark | None:
    """The place of the value at `path`, when the merged profile sets it."""
    return merged.mark(path) if holds(merged, path) else None
