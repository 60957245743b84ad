"""Errors as values with a place: `Diagnostic`, and the exception that carries them."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

Severity = Literal["error", "warning", "note"]
T = TypeVar("T")
U = TypeVar("U")
MAX_ERRORS = 100  # per file and stage: a hostile file cannot make the compiler list millions
MAX_LINE = 2000  # characters of one printed diagnostic; a value may be megabytes long


@dataclass(frozen=True, order=True)
class Mark:
    """A place in a file: 1-based line and column; 0 means the whole file or line."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line == 0:
            return self.path
        if self.column == 0:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One message about one place; sorts by place, then text."""

    mark: Mark
    message: str
    hint: str = ""
    severity: Severity = "error"
    rule: str = ""

    def __str__(self) -> str:
        text = f"{self.mark}: {self.severity}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return printable(text)


def printable(text: str) -> str:
    """`text` on one short line: newlines, escapes and other invisible characters as `\\n`."""
    more = ""
    if len(text) > MAX_LINE:
        more = f"... ({len(text) - MAX_LINE} more characters)"
        text = text[:MAX_LINE]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text + more


def _sort_key(d: Diagnostic) -> tuple[str, int, int, str, str, str, str]:
    return (d.mark.path, d.mark.line, d.mark.column, d.message, d.hint, d.severity, d.rule)


class CompileError(Exception):
    """Base of every error a user can cause; carries all diagnostics found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(set(diagnostics), key=_sort_key))  # = dataclass order
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __reduce__(self) -> tuple[type[CompileError], tuple[list[Diagnostic]]]:
        """Pickled with its diagnostics (a build's worker sends its error back)."""
        return type(self), (list(self.diagnostics),)


class UsageError(CompileError):
    """A command-line argument names something that does not exist."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def plural(count: int, word: str, many: str = "") -> str:
    """`1 profile`, `3 profiles` (`many` when the plural is not `word` + s)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def possessive(name: str) -> str:
    """`auth-service's`, `orders'`: the possessive of a name, as English writes it."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def collect(function: Callable[[T], U], items: Iterable[T]) -> list[U]:
    """`function` of each item, in order; raises one `CompileError` with the diagnostics of
    every item that raised one, so that a bad item does not hide the others."""
    results: list[U] = []
    errors: list[Diagnostic] = []
    for item in items:
        try:
            results.append(function(item))
        except CompileError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise CompileError(errors)
    return results
