"""Read a generated Python module back: its top-level assignments, each distinct block parsed once.

`ast.parse` of every `timeouts.py` was the largest part of a build (1,000 services x 4
environments: 16,000 parses of 5.6 KB each). Most of each module is the same in every
service (the dataclasses, the function at the end); only a few blocks hold values. So the
text is cut into blocks where a blank line is followed by a line that starts in column 0
with a non-blank character, each block is parsed on its own by `ast.parse`, and what a
block assigns is remembered by its text.

Why that is exactly `ast.parse(text)`: a block that parses on its own ends outside every
bracket, string and continuation, so the tokenizer reads the next block (starting in
column 0) as it reads the start of a file, and Python's grammar (`file: statements
ENDMARKER`) accepts the whole text if and only if it accepts every block. A block that
does not parse on its own (a docstring with a blank line, an `else:` after a blank line)
is parsed together with the rest of the text; if that fails too, the whole text is parsed
as one, and its error is the one raised, with its line numbers. A module that imports
from `__future__` (which may change how the rest is read) is always parsed whole.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

BLOCK_START = re.compile(r"\n(?=\n\S)")
MAX_MEMO_CHARACTERS = 4_000_000  # the memo's keys; cleared when full
NOT_CONSTANT = object()
PHASES = frozenset({"STARTUP", "SHUTDOWN"})


@dataclass(frozen=True)
class Assignment:
    """`NAME: T = value` at the top of a module, as far as the read-back needs it."""

    name: str
    has_value: bool
    constant: Any  # the value of a literal constant; NOT_CONSTANT otherwise
    meaning: Any  # RETRIES, REQUEST_PATHS, STARTUP/SHUTDOWN as the check reads them


_memo: dict[str, tuple[Assignment, ...]] = {}
_memo_characters = 0


def assignments(text: str) -> list[Assignment]:
    """Every top-level annotated assignment to a name, in order; `SyntaxError` (or
    `ValueError` for a NUL) exactly as `ast.parse(text)` raises it."""
    if "__future__" in text:
        return list(_assignments_of(ast.parse(text)))
    found: list[Assignment] = []
    start = 0
    for cut in [m.end() for m in BLOCK_START.finditer(text)] + [len(text)]:
        block = text[start:cut]
        known = _memo.get(block)
        if known is None:
            try:
                known = _remember(block, _assignments_of(ast.parse(block)))
            except (SyntaxError, ValueError):
                return _after_failure(text, start, found)
        found.extend(known)
        start = cut
    return found


def _after_failure(text: str, start: int, found: list[Assignment]) -> list[Assignment]:
    """The block at `start` does not parse alone: the rest as one block, else the whole
    text as one (its result, or its error with the module's own line numbers)."""
    try:
        return found + list(_assignments_of(ast.parse(text[start:])))
    except (SyntaxError, ValueError):
        return list(_assignments_of(ast.parse(text)))


def _remember(block: str, found: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
    global _memo_characters
    if _memo_characters + len(block) > MAX_MEMO_CHARACTERS:
        _memo.clear()
        _memo_characters = 0
    _memo[block] = found
    _memo_characters += len(block)
    return found


def _assignments_of(tree: ast.Module) -> tuple[Assignment, ...]:
    return tuple(
        _assignment(node.target.id, node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    )


def _assignment(name: str, value: ast.expr | None) -> Assignment:
    constant = value.value if isinstance(value, ast.Constant) else NOT_CONSTANT
    meaning: Any = None
    if name == "RETRIES":
        meaning = _retries(value)
    elif name == "REQUEST_PATHS":
        meaning = _request_paths(value)
    elif name in PHASES and isinstance(value, ast.Tuple):
        meaning = _phase_pairs(value)
    return Assignment(name, value is not None, constant, meaning)


@dataclass(frozen=True)
class Name:
    """A name read in the module (`DATABASE_CONNECT_TIMEOUT_S`), not a string literal."""

    id: str

    def __repr__(self) -> str:
        return self.id


def _keywords(node: ast.expr | None) -> dict[str, ast.expr]:
    """The keyword arguments of a call, by name; none when `node` is not a call."""
    if not isinstance(node, ast.Call):
        return {}
    return {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}


def _literal(node: ast.expr | None) -> Any:
    """A constant or a tuple of constants, as Python reads it; None for anything else."""
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _retries(node: ast.expr | None) -> dict[str, tuple[Any, ...]]:
    """`RETRIES = Retries(auth=RetryPolicy(...))` as {dependency: (attempts, delays, uncapped)}."""
    found = {}
    for name, policy in _keywords(node).items():
        fields = _keywords(policy)
        cap = fields.get("backoff_max_s")
        uncapped = isinstance(cap, ast.Constant) and cap.value is None
        found[name] = (_literal(fields.get("attempts")), _literal(fields.get("delays_s")), uncapped)
    return found


def _request_paths(node: ast.expr | None) -> dict[Any, tuple[Any, ...]]:
    """`REQUEST_PATHS = MappingProxyType({...})` as {name: (steps, deadline_s)}."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Dict):
        return {}
    entries = node.args[0]
    found = {}
    for key, value in zip(entries.keys, entries.values, strict=True):
        fields = _keywords(value)
        found[_literal(key)] = (_literal(fields.get("steps")), _literal(fields.get("deadline_s")))
    return found


PHASE_FIELDS = ("dependency", "timeout", "seconds", "attempts", "worst_s")


def _phase_pairs(node: ast.Tuple) -> list[tuple[Any, ...]]:
    """`(Phase("database", "connect", DATABASE_CONNECT_TIMEOUT_S, attempts=4, worst_s=10.15),
    ...)` as (dependency, timeout, seconds, attempts, worst_s) tuples, positional and
    keyword arguments alike; a name stands as `Name(id)`, a missing field as None."""
    found = []
    for call in node.elts:
        if not isinstance(call, ast.Call):
            continue
        given = dict(zip(PHASE_FIELDS, call.args, strict=False)) | _keywords(call)
        found.append(tuple(_value(given.get(field)) for field in PHASE_FIELDS))
    return found


def _value(node: ast.expr | None) -> Any:
    return Name(node.id) if isinstance(node, ast.Name) else _literal(node)
