"""Reading a Python module back block by block gives exactly what one `ast.parse` gives."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import example, given, settings
from hypothesis import strategies as st

from compiler.pipeline import python_readback
from compiler.pipeline.python_readback import assignments

GENERATED = sorted((REPO / "out").rglob("*.py")) + sorted((REPO / "tests/golden").rglob("*.py"))

TRICKY_LINES = [
    "",
    "",
    '"""A docstring',
    "",
    'with a blank line."""',
    "if ENVIRONMENT:",
    "    X: Final[int] = 1",
    "else:",
    "    X: Final[int] = 2",
    "Y: Final[float] = (",
    "    1.5",
    ")",
    "Z: Final[str] = 'a' \\",
    "W: Final[str] = '''",
    "'''",
    "from __future__ import barry_as_FLUFL",
    "V: Final[bool] = 1 <> 2",
    "@dataclass",
    "class C:",
    "    x: int",
    "    pass",
    "def f() -> None:",
    "  return",
    "\tT: int = 3",
    "\fU: int = 4",
    "# a comment",
    "N: Final[None] = None",
    "ENVIRONMENT: Final[str] = 'prod'",
    "RETRIES: Final[R] = R(a=P(attempts=2, delays_s=(0.1,), backoff_max_s=None))",
    "REQUEST_PATHS: Final[M] = M({'read': P(steps=('a.b',), deadline_s=1.5)})",
    "STARTUP: Final[tuple[P, ...]] = (P('database', 'connect', 1.0),)",
    "SHUTDOWN: Final[tuple[P, ...]] = ()",
    "x = ) syntax error",
    "\x00",
    "é: int = 1",
]


def outcome(text: str) -> tuple[str, object]:
    """What the block reader gives, or the error it raises with its place."""
    try:
        return "value", assignments(text)
    except (SyntaxError, ValueError) as exc:
        return "error", _error(exc)


def reference(text: str) -> tuple[str, object]:
    """What one `ast.parse` of the whole text gives."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return "error", _error(exc)
    return "value", list(python_readback._assignments_of(tree))


def _error(exc: Exception) -> tuple[object, ...]:
    if isinstance(exc, SyntaxError):
        return (type(exc), exc.msg, exc.lineno, exc.offset, exc.end_lineno, exc.end_offset)
    return (type(exc), str(exc))


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_generated_module_reads_as_one_parse_reads_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert outcome(text) == reference(text)
    assert outcome(text) == reference(text)  # the second time from the memo


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TRICKY_LINES), max_size=14))
@example(['"""A docstring', "", 'with a blank line."""', "", "ENVIRONMENT: Final[str] = 'prod'"])
@example(["if ENVIRONMENT:", "    X: Final[int] = 1", "", "else:", "    X: Final[int] = 2"])
@example(["N: Final[None] = None", "", "from __future__ import barry_as_FLUFL", "", "1 <> 2"])
@example(["Y: Final[float] = (", "", "    1.5", ")", "", "x = ) syntax error"])
@example(["Z: Final[str] = 'a' \\", "", "N: Final[None] = None"])
def test_any_lines_read_as_one_parse_reads_them(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    assert outcome(text) == reference(text)


def test_blocks_of_a_module_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "out/production/netra-backend/timeouts.py").read_text(encoding="utf-8")
    assignments(text)
    parsed: list[str] = []
    real_parse = ast.parse
    monkeypatch.setattr(python_readback.ast, "parse", lambda t: parsed.append(t) or real_parse(t))
    assignments(text)
    assert parsed == []
    assignments(text.replace('SERVICE: Final[str] = "netra-backend"', 'SERVICE: Final[str] = "x"'))
    assert len(parsed) == 1 and 'SERVICE: Final[str] = "x"' in parsed[0]


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_readback, "MAX_MEMO_CHARACTERS", 100)
    monkeypatch.setattr(python_readback, "_memo", {})
    monkeypatch.setattr(python_readback, "_memo_characters", 0)
    for n in range(50):
        assignments(f"A{n}: int = {n}\n")
    assert python_readback._memo_characters <= 100
    assert sum(map(len, python_readback._memo)) == python_readback._memo_characters
