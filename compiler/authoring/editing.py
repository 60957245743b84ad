"""Change one value of a profile's text through ruamel.yaml's round trip.

Everything outside the changed value stays byte for byte: ruamel keeps comments, key
order, quoting and flow style; where it would still normalize a line elsewhere (spacing
inside braces, say), only the lines of the edit are carried over into the original text,
and a value on such a line is spliced in by its exact position. The result is then read
back and must equal the old data with exactly one value changed.
"""

from __future__ import annotations

import copy
import difflib
import io
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from compiler.authoring.keypaths import (
    KeyPath,
    Kind,
    format_key_path,
)
from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.pipeline.load import Document, load_bytes, resolve_plain

MISSING: Any = object()
_BOOLEANS = {"true": True, "false": False}
_TOP_KEY_AFTER_BLANK = re.compile(r"\n[ \t]*\n[^\s#%-]")
_INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 2), (4, 4, 2), (3, 3, 0), (3, 5, 2))
WIDTH = 1 << 16


class Plain(str):
    """Number text written exactly as typed, unquoted (`0.70` stays `0.70`)."""


def _represent_plain(representer: Any, data: Plain) -> Any:
    integer = type(resolve_plain(str(data))) is int
    tag = "tag:yaml.org,2002:int" if integer else "tag:yaml.org,2002:float"
    return representer.represent_scalar(tag, str(data))


RoundTripRepresenter.add_representer(Plain, _represent_plain)


def new_value(kind: Kind, text: str, old: Any, *, fixed: bool, flow: bool) -> Any:
    """VALUE typed as the schema says, in the style of the value it replaces."""
    if fixed:
        if isinstance(old, CommentedMap) and "fixed" in old:
            old["fixed"] = _string(text, old["fixed"])
            return old
        pinned = CommentedMap(fixed=_string(text, MISSING))
        pinned.fa.set_flow_style()
        return pinned
    if kind == "boolean" and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    typed = resolve_plain(text)  # the loader's own rules: `.7` and `7e-1` are numbers too
    if kind == "integer" and type(typed) is int:
        return typed
    if kind == "number" and type(typed) in (int, Decimal):
        return Plain(text)
    if kind == "array":
        return _sequence(text, old, flow=flow)
    return _string(text, old)


def flow_mapping(data: Mapping[str, Any]) -> CommentedMap:
    """Loaded data (a VALUE such as `{port: 8080, health: {startup: /health}}`) in flow style.

    Strings are quoted where the strict loader would read them as something else; numbers
    are written exactly as they were read (`0.70` stays `0.70`).
    """
    mapping = CommentedMap((key, _flow_item(value)) for key, value in data.items())
    mapping.fa.set_flow_style()
    return mapping


def _flow_item(value: Any) -> Any:
    if isinstance(value, Mapping):
        return flow_mapping(value)
    if isinstance(value, list):
        items = CommentedSeq(_flow_item(v) for v in value)
        items.fa.set_flow_style()
        return items
    if isinstance(value, Decimal):
        return Plain(str(value))
    if isinstance(value, str):
        return _string(value, MISSING)
    return value  # int, bool, None


def expected_value(value: Any) -> Any:
    """What the strict loader must read back for a value built by `new_value`."""
    if isinstance(value, Plain):
        return resolve_plain(str(value))
    if isinstance(value, CommentedMap):
        return {str(k): expected_value(v) for k, v in value.items()}
    if isinstance(value, CommentedSeq):
        return [expected_value(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _string(text: str, old: Any) -> str:
    """A string that the strict loader reads back as this same string."""
    style: type[str] = str
    if isinstance(old, SingleQuotedScalarString | DoubleQuotedScalarString):
        style = type(old)
    elif not isinstance(resolve_plain(text), str) or text != text.strip() or not text.isprintable():
        style = DoubleQuotedScalarString
    return style(text)


def _sequence(text: str, old: Any, *, flow: bool) -> CommentedSeq:
    """`a, b` or `[a, b]` as a list of strings, flow style where the old list was."""
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    items = CommentedSeq(_string(i.strip(), MISSING) for i in inner.split(",") if i.strip())
    if flow or (isinstance(old, CommentedSeq) and old.fa.flow_style()):
        items.fa.set_flow_style()
    return items


@dataclass(frozen=True)
class Rewrite:
    """Texts with the new value, best first, and the value replaced and written."""

    texts: tuple[str, ...]
    old: Any
    new: Any


def rewrite(text: str, path: KeyPath, build: Callable[[Any, bool], Any], relative: str) -> Rewrite:
    """`text` with the value at `path` replaced by `build(old, in_flow)`."""
    newline = "\r\n" if "\r\n" in text and "\n" not in text.replace("\r\n", "") else "\n"
    source = text.replace("\r\n", "\n") if newline == "\r\n" else text
    round_trip = _round_trip_yaml()
    try:
        data = round_trip.load(source)
        baseline = _dump_matching(round_trip, data, source)
        old, new = _replace(data, path, build, top_blank=bool(_TOP_KEY_AFTER_BLANK.search(source)))
        edited = _dump(round_trip, data)
    except YAMLError as exc:
        raise CompileError([Diagnostic(Mark(relative, 1, 1), f"cannot edit: {exc}")]) from None
    texts = [carry_over(source, baseline, edited), edited]
    spliced = splice(source, edited, path)
    if spliced is not None and spliced[1] not in baseline.splitlines():
        texts.insert(0, spliced[0])  # ruamel would respace the value's line: splice it in
    return Rewrite(tuple(t.replace("\n", newline) for t in texts), old, new)


def splice(original: str, edited: str, path: KeyPath) -> tuple[str, str] | None:
    """`original` with the one-line value at `path` taken from `edited`, and its old line."""
    old = _span(original, path)
    new = _span(edited, path)
    if old is None or new is None:
        return None
    old_line = original.split("\n")[original[: old[0]].count("\n")]
    return original[: old[0]] + edited[new[0] : new[1]] + original[old[1] :], old_line


def _span(text: str, path: KeyPath) -> tuple[int, int] | None:
    """Start and end offsets of the node at `path`, when it sits on one line."""
    try:
        node: Any = pyyaml.compose(text, Loader=pyyaml.SafeLoader)
    except pyyaml.YAMLError:
        return None
    for key in path:
        if not isinstance(node, pyyaml.MappingNode):
            return None
        found = [v for k, v in node.value if isinstance(k, pyyaml.ScalarNode) and k.value == key]
        if len(found) != 1:
            return None
        node = found[0]
    start, end = node.start_mark, node.end_mark
    return (start.index, end.index) if start.line == end.line else None


def _round_trip_yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = WIDTH
    yaml.allow_duplicate_keys = False
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _dump_matching(yaml: YAML, data: Any, source: str) -> str:
    """Dump unchanged with the file's own indentation: the first setting that reproduces it."""
    guess = guess_indent(source)
    first = ""
    for mapping, sequence, offset in (guess, *_INDENTS):
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        dumped = _dump(yaml, data)
        if dumped == source:
            return dumped
        first = first or dumped
    yaml.indent(mapping=guess[0], sequence=guess[1], offset=guess[2])
    return first


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file writes them."""
    mapping = sequence = offset = 0
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for above, below in itertools.pairwise(lines):
        if not above.split("#")[0].rstrip().endswith(":"):
            continue
        step = (len(below) - len(below.lstrip())) - (len(above) - len(above.lstrip()))
        if below.lstrip().startswith("- "):
            if not sequence and step >= 0:
                offset, sequence = step, step + 2
        elif step > 0 and not mapping:
            mapping = step
    mapping = mapping or 2
    return mapping, max(sequence or mapping, offset + 2), offset


def _replace(
    data: Any, path: KeyPath, build: Callable[[Any, bool], Any], *, top_blank: bool
) -> tuple[Any, Any]:
    """Set the value at `path`, creating missing mappings; returns (old or MISSING, new)."""
    node = data
    for depth, key in enumerate(path):
        if not isinstance(node, CommentedMap):
            where = format_key_path(path[:depth])
            raise _EditError(f"'{where}' is not a mapping in this file", depth)
        flow = bool(node.fa.flow_style())
        if depth == len(path) - 1:
            old = node.get(key, MISSING)
            new = build(old, flow)
            _put(node, key, new, top=top_blank and depth == 0)
            return old, new
        if node.get(key) is None:
            fresh = CommentedMap()
            if flow:
                fresh.fa.set_flow_style()
            _put(node, key, fresh, top=top_blank and depth == 0)
        node = node[key]
    raise _EditError("empty key path", 0)


def _put(node: CommentedMap, key: str, value: Any, *, top: bool) -> None:
    is_new = key not in node
    node[key] = value
    if is_new and top and len(node) > 1:
        node.yaml_set_comment_before_after_key(key, before="\n")


class _EditError(Exception):
    def __init__(self, message: str, depth: int) -> None:
        super().__init__(message)
        self.message = message
        self.depth = depth


def carry_over(original: str, baseline: str, edited: str) -> str:
    """Apply the baseline -> edited change to `original`, which ruamel may not reproduce.

    Only the lines of the edit come from `edited`; a line that ruamel would only have
    normalized (spacing inside braces, say) stays as in `original`.
    """
    if baseline == original:
        return edited
    o_lines = original.splitlines(keepends=True)
    b_lines = baseline.splitlines(keepends=True)
    e_lines = edited.splitlines(keepends=True)
    to_original = _corresponding_lines(b_lines, o_lines)
    to_edited = _corresponding_lines(b_lines, e_lines, equal_only=True)
    changed = [
        (i1, i2)
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(
            None, b_lines, e_lines, autojunk=False
        ).get_opcodes()
        if tag != "equal"
    ]
    regions: list[tuple[int, int]] = []
    for i1, i2 in changed:
        while i1 > 0 and not (i1 - 1 in to_original and i1 - 1 in to_edited):
            i1 -= 1
        while i2 < len(b_lines) and not (i2 in to_original and i2 in to_edited):
            i2 += 1
        if regions and i1 <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], i2))
        else:
            regions.append((i1, i2))
    result = list(o_lines)
    for i1, i2 in reversed(regions):
        o1 = to_original[i1 - 1] + 1 if i1 else 0
        o2 = to_original[i2] if i2 < len(b_lines) else len(o_lines)
        e1 = to_edited[i1 - 1] + 1 if i1 else 0
        e2 = to_edited[i2] if i2 < len(b_lines) else len(e_lines)
        result[o1:o2] = e_lines[e1:e2]
    return "".join(result)


def _corresponding_lines(a: list[str], b: list[str], *, equal_only: bool = False) -> dict[int, int]:
    """For each line of `a` with a counterpart in `b`, its index there.

    Equal lines correspond; so do the lines of a block rewritten line for line (ruamel's
    normalized spacing), unless `equal_only`.
    """
    found: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (not equal_only and tag == "replace" and i2 - i1 == j2 - j1):
            found.update({i1 + k: j1 + k for k in range(i2 - i1)})
    return found


def with_value(data: Mapping[str, Any], path: KeyPath, value: Any) -> dict[str, Any]:
    """A deep copy of `data` with `value` at `path` (missing mappings created)."""
    result = copy.deepcopy(dict(data))
    node = result
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return result


def edit_profile(
    raw: bytes,
    relative: str,
    path: KeyPath,
    build: Callable[[Any, bool], Any],
) -> tuple[bytes, Any, Any]:
    """New bytes, old value (as ruamel read it) and new value (as the loader reads it)."""
    document = load_bytes(raw, relative)
    try:
        result = rewrite(raw.decode("utf-8"), path, build, relative)
    except _EditError as exc:
        raise CompileError(
            [Diagnostic(key_mark(document, path[: exc.depth]), exc.message)]
        ) from None
    value = expected_value(result.new)
    expected = with_value(document.data, path, value)
    for text in result.texts:
        after = text.encode("utf-8")
        try:
            if load_bytes(after, relative).data == expected:
                return after, result.old, value
        except CompileError:
            continue
    raise CompileError(
        [
            Diagnostic(
                key_mark(document, path),
                f"cannot change '{format_key_path(path)}' without changing other values "
                "of this file",
                "edit it by hand",
            )
        ]
    )


def key_mark(document: Document, path: KeyPath) -> Mark:
    """The nearest key of `path` that the file has, else the file itself."""
    for depth in range(len(path), 0, -1):
        mark = document.key_marks.get(path[:depth])
        if mark is not None:
            return mark
    return Mark(document.path)
