"""Load one YAML file into plain data plus the line and column of every key and value.

The C parser's event stream is composed here, not by PyYAML's constructors, so that
plain scalars follow one strict rule set (`no`, `0777` and `1:30` stay strings), and
tags, anchors, aliases, duplicate keys and extra documents are errors with a place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from compiler.diagnostics import MAX_ERRORS, CompileError, Diagnostic, Mark
from compiler.files import MAX_FILE_BYTES

Path = tuple[str | int, ...]
MAX_DEPTH = 64
MAX_NODES = 200_000  # keys, values and items (2x a 1000-service profile): bounds the time

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,299})")  # far below Python's 4300-digit limit
_DECIMAL = re.compile(
    r"-?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?|-?[0-9]+[eE][-+]?[0-9]{1,4}"
)


class Marked:
    """Finds where a value or key stands, by its path (Document and MergedProfile)."""

    path: str
    value_marks: dict[Path, Mark]
    key_marks: dict[Path, Mark]

    def mark(self, path: Path) -> Mark:
        """The mark of the value at `path`, or of its nearest ancestor."""
        marks = self.value_marks
        found = marks.get(path)  # nearly always there: one lookup
        while found is None and path:
            path = path[:-1]
            found = marks.get(path)
        return found or Mark(self.path, 1, 1)

    def key_mark(self, path: Path) -> Mark:
        """The mark of the key that introduces `path`, else of its value."""
        return self.key_marks.get(path) or self.mark(path)


@dataclass(frozen=True)
class Document(Marked):
    """A loaded YAML file: its data and where each key and value stands."""

    path: str
    data: dict[str, Any]
    value_marks: dict[Path, Mark] = field(repr=False)
    key_marks: dict[Path, Mark] = field(repr=False)


def resolve_plain(text: str) -> Any:
    """The value of an unquoted scalar: null, bool, int, exact Decimal, else the text."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return Decimal(text)
    return text


def decode(raw: bytes, path: str) -> str:
    """UTF-8 text without BOM or NUL bytes, else a located error."""
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise CompileError(
            [
                Diagnostic(
                    Mark(path, 1, 1),
                    "file starts with a byte order mark",
                    "save it as UTF-8 without BOM",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompileError(
            [
                Diagnostic(
                    _offset_mark(raw, exc.start, path),
                    "file is not valid UTF-8",
                    "save it as UTF-8",
                )
            ]
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise CompileError([Diagnostic(_text_mark(text, nul, path), "file contains a NUL byte")])
    return text


# Characters that YAML 1.1 (libyaml) reads as line breaks where YAML 1.2 and every editor
# see one line, and the bidirectional controls that make a line show other than it reads.
_LINE_BREAKS = {
    "\u0085": "NEXT LINE (NEL)",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}
_BIDI = {chr(c): unicodedata.name(chr(c)) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_HIDDEN = re.compile("[" + "".join(_LINE_BREAKS) + "".join(_BIDI) + "]")
_QUOTE_AFTER = frozenset(":-?,[{")


def one_meaning(text: str, path: str) -> str:
    """`text` as libyaml must read it to mean what a reviewer sees: a hidden line break
    or a bidi control outside a comment is a located error naming it; inside a comment
    a hidden line break becomes a space (libyaml would end the comment there)."""
    if _HIDDEN.search(text) is None:
        return text
    errors: list[Diagnostic] = []
    chars = list(text)
    for offset, in_comment in _hidden_places(text):
        char = text[offset]
        if in_comment:
            if char in _LINE_BREAKS:
                chars[offset] = " "
            continue
        if len(errors) >= MAX_ERRORS:
            errors.append(
                Diagnostic(
                    _text_mark(text, offset, path), f"too many errors; stopped after {MAX_ERRORS}"
                )
            )
            break
        errors.append(Diagnostic(_text_mark(text, offset, path), *_hidden_message(char)))
    if errors:
        raise CompileError(errors)
    return "".join(chars)


def _hidden_message(char: str) -> tuple[str, str]:
    code = f"U+{ord(char):04X}"
    if char in _LINE_BREAKS:
        return (
            f"{code} {_LINE_BREAKS[char]} outside a comment: YAML 1.1 readers start a new line "
            "here, while YAML 1.2 readers and editors show one line",
            f"remove it, or write \\u{ord(char):04x} inside double quotes",
        )
    return (
        f"{code} {_BIDI[char]} outside a comment: it makes the line show in another order "
        "than the compiler reads it",
        f"remove it, or write \\u{ord(char):04x} inside double quotes",
    )


def _hidden_places(text: str) -> Iterator[tuple[int, bool]]:
    """(offset, inside a comment) of each hidden character, in one pass that follows
    quoted scalars (across lines) and comments; only \\n and \\r end a line."""
    quote = ""  # the quote of the scalar we are in, or ''
    comment = escaped = False
    previous = "\n"  # the character before
    last_solid = ""  # the last character of this line that is not a space
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char in "\n\r":
            comment = False
        elif comment:
            pass
        elif quote == '"':
            if char == "\\":
                escaped = True
            elif char == '"':
                quote = ""
        elif quote == "'":
            if char == "'" and text[i + 1 : i + 2] == "'":
                escaped = True  # '' is a quote inside the scalar
            elif char == "'":
                quote = ""
        elif char == "#" and previous in " \t\n\r":
            comment = True
        elif (
            char in "'\""
            and (not last_solid or last_solid in _QUOTE_AFTER)
            and previous in " \t\n\r[{,"
        ):
            quote = char
        if char in _LINE_BREAKS or char in _BIDI:
            yield i, comment
        if char in "\n\r":
            last_solid = ""
        elif char not in " \t":
            last_solid = char
        previous = char


def _text_mark(text: str, offset: int, path: str) -> Mark:
    before = text[:offset]
    return Mark(path, before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def _offset_mark(raw: bytes, offset: int, path: str) -> Mark:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return Mark(path, line, column)


def load_bytes(raw: bytes, path: str, *, kind: str = "profile") -> Document:
    """Compose `raw` (one YAML document holding a mapping) into a `Document`.

    `kind` names the file in messages: a `profile`, a `service export`.
    """
    if len(raw) > MAX_FILE_BYTES:
        raise CompileError(
            [Diagnostic(Mark(path), f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")]
        )
    return _Composer(path, kind).compose(one_meaning(decode(raw, path), path))


class _Frame:
    __slots__ = ("container", "key", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.path = path
        self.key: str | None = None


class _Composer:
    """Builds plain data from parser events, recording marks and collecting errors."""

    def __init__(self, path: str, kind: str = "profile") -> None:
        self.path = path
        self.kind = kind
        self.value_marks: dict[Path, Mark] = {}
        self.key_marks: dict[Path, Mark] = {}
        self.errors: list[Diagnostic] = []

    def mark(self, event: Any) -> Mark:
        start = event.start_mark
        return Mark(self.path, start.line + 1, start.column + 1)

    def fail(self, event: Any, message: str, hint: str = "") -> None:
        self.errors.append(Diagnostic(self.mark(event), message, hint))

    def compose(self, text: str) -> Document:
        root: Any = None
        documents = 0
        stack: list[_Frame] = []
        nodes = 0
        try:
            for event in yaml.parse(text, Loader=yaml.CSafeLoader):
                kind = type(event)
                if kind is yaml.DocumentStartEvent:
                    documents += 1
                    if documents > 1:
                        self.fail(
                            event,
                            f"more than one YAML document in a {self.kind}",
                            "remove the '---' line",
                        )
                        break
                    continue
                if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent):
                    continue
                if kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                    stack.pop()
                    continue
                nodes += 1
                if nodes > MAX_NODES:
                    self.fail(event, f"more than {MAX_NODES} YAML nodes in one {self.kind}")
                    break
                if not self.acceptable(event):
                    break
                top = stack[-1] if stack else None
                if top is not None and type(top.container) is dict and top.key is None:
                    if not self.take_key(event, top):
                        break
                    continue
                value, path = self.value_of(event, top)
                if top is None:
                    root = value
                elif type(top.container) is dict:
                    assert top.key is not None
                    top.container[top.key] = value
                    top.key = None
                else:
                    top.container.append(value)  # type: ignore[union-attr]
                if isinstance(value, dict | list):
                    if len(stack) >= MAX_DEPTH:
                        self.fail(event, f"nesting deeper than {MAX_DEPTH} levels")
                        break
                    stack.append(_Frame(value, path))
        except yaml.MarkedYAMLError as exc:
            self.errors.append(self.yaml_error(exc, text))
        except yaml.reader.ReaderError as exc:
            where = _text_mark(text, exc.position, self.path)
            self.errors.append(Diagnostic(where, f"invalid YAML: {exc.reason}"))
        if not self.errors:
            if documents == 0 or root is None:
                self.errors.append(
                    Diagnostic(
                        Mark(self.path, 1, 1),
                        f"empty {self.kind}",
                        f"a {self.kind} is a YAML mapping",
                    )
                )
            elif not isinstance(root, dict):
                self.errors.append(
                    Diagnostic(
                        self.value_marks[()], f"a {self.kind} must be a YAML mapping at the top"
                    )
                )
        if self.errors:
            raise CompileError(self.errors)
        return Document(self.path, root, self.value_marks, self.key_marks)

    def acceptable(self, event: Any) -> bool:
        """Reject aliases, anchors and explicit tags; they have no place in a profile."""
        share = "use 'extends' to share values" if self.kind == "profile" else ""
        if type(event) is yaml.AliasEvent:
            self.fail(event, f"YAML aliases are not allowed in {self.kind}s", share)
            return False
        if event.anchor is not None:
            self.fail(
                event,
                f"YAML anchor '&{event.anchor}' is not allowed in {self.kind}s",
                share,
            )
            return False
        if event.tag is not None and event.tag != "!":
            self.fail(
                event,
                f"YAML tag '{event.tag}' is not allowed in {self.kind}s",
                "write the value without a tag",
            )
            return False
        return True

    def take_key(self, event: Any, frame: _Frame) -> bool:
        if type(event) is not yaml.ScalarEvent:
            self.fail(event, "a mapping key must be a plain string")
            return False
        key = str(event.value)
        path = (*frame.path, key)
        if key in frame.container:
            first = self.key_marks[path]
            self.fail(event, f"duplicate key '{key}' (first at line {first.line})")
            if len(self.errors) >= MAX_ERRORS:
                self.fail(event, f"too many errors; stopped after {MAX_ERRORS}")
                return False
        self.key_marks[path] = self.mark(event)
        frame.key = key
        return True

    def value_of(self, event: Any, top: _Frame | None) -> tuple[Any, Path]:
        if top is None:
            path: Path = ()
        elif type(top.container) is dict:
            assert top.key is not None
            path = (*top.path, top.key)
        else:
            path = (*top.path, len(top.container))
        self.value_marks[path] = self.mark(event)
        kind = type(event)
        if kind is yaml.MappingStartEvent:
            return {}, path
        if kind is yaml.SequenceStartEvent:
            return [], path
        if not event.style and event.implicit[0] and event.tag is None:  # `! 8080` is a str
            return resolve_plain(event.value), path
        return event.value, path

    def yaml_error(self, exc: yaml.MarkedYAMLError, text: str) -> Diagnostic:
        if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
            start = exc.context_mark  # where the quote opens, not where the file ends
            where = Mark(self.path, start.line + 1, start.column + 1)
            return Diagnostic(
                where,
                "invalid YAML: unterminated quoted string: this quote is never closed",
                "close it with the same quote character",
            )
        mark = exc.problem_mark or exc.context_mark
        where = Mark(self.path, mark.line + 1, mark.column + 1) if mark else Mark(self.path, 1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        hint = "indent with spaces; YAML does not allow tabs" if _tab_indented(text, mark) else ""
        return Diagnostic(where, f"invalid YAML: {problem}", hint)


def _tab_indented(text: str, mark: Any) -> bool:
    """Whether the line of a YAML error is indented with a tab (or the error is at one)."""
    if mark is None:
        return False
    lines = text.split("\n")
    if mark.line >= len(lines):
        return False
    line = lines[mark.line]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indent or line[mark.column : mark.column + 1] == "\t"
