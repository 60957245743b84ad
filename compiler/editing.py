"""Change one value of a profile's text through ruamel.yaml's round trip.

Everything outside the changed value stays byte for byte: ruamel keeps comments, key
order, quoting and flow style; where it would still normalize a line elsewhere (spacing
inside braces, say), only the lines of the edit are carried over into the original text.
The result is then read back and must equal the old data with exactly one value changed.
"""

from __future__ import annotations

import copy
import difflib
import io
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from compiler.diagnostics import CompileError, Diagnostic, Mark, UsageError, did_you_mean
from compiler.emit import TEMP_SUFFIX
from compiler.keypaths import (
    KeyPath,
    KeyPathError,
    Kind,
    SchemaWalker,
    Target,
    children,
    format_key_path,
    locate,
    merged_view,
    parse_key_path,
)
from compiler.loader import Document, load_bytes, resolve_plain

if TYPE_CHECKING:
    from compiler.pipeline import Compilation

MISSING: Any = object()
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_KEY_LINE = re.compile(r"[^\s#%-]")
_TOP_KEY_AFTER_BLANK = re.compile(r"\n[ \t]*\n[^\s#%-]")
_REPOSITORY_INPUTS = ("profiles", "schemas", "templates")
_INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 2), (4, 4, 2), (3, 3, 0), (3, 5, 2))
WIDTH = 1 << 16


class Plain(str):
    """Number text written exactly as typed, unquoted (`0.70` stays `0.70`)."""


def _represent_plain(representer: Any, data: Plain) -> Any:
    tag = "tag:yaml.org,2002:int" if _INTEGER.fullmatch(data) else "tag:yaml.org,2002:float"
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
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and _NUMBER.fullmatch(text):
        return Plain(text)
    if kind == "array":
        return _sequence(text, old, flow=flow)
    return _string(text, old)


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


@dataclass(frozen=True)
class SetRequest:
    """`timeoutc set PROFILE KEY.PATH VALUE` as plain values."""

    profile: str
    key_path: str
    value: str
    fixed: bool = False
    new: bool = False


@dataclass(frozen=True)
class Edit:
    """A planned change of one profile file: its bytes before and after, and what changed."""

    file: Path
    relative: str
    path: KeyPath
    before: bytes
    after: bytes
    was: str
    now: str
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the file's bytes change."""
        return self.before != self.after


def plan_edit(root: Path, request: SetRequest) -> Edit:
    """Check the request against the schema and compute the file's new bytes; writes nothing."""
    from compiler.pipeline import PROFILES_DIR, profile_files
    from compiler.schema import read_schema

    files = profile_files(root)
    file = files.get(request.profile)
    if file is None:
        hint = did_you_mean(request.profile, files) or f"profiles: {', '.join(files)}"
        message = f"unknown profile '{request.profile}'"
        raise UsageError([Diagnostic(Mark(PROFILES_DIR), message, hint)])
    relative = f"{PROFILES_DIR}/{file.name}"
    before = _read(file, relative)
    document = load_bytes(before, relative)
    schema = read_schema(root)
    segments: KeyPath = ()
    try:
        segments = parse_key_path(request.key_path)
        target = locate(schema, segments)
    except KeyPathError as exc:
        where = key_mark(document, segments[: exc.depth])
        raise UsageError([Diagnostic(where, exc.message, exc.hint)]) from None
    view = merged_view(root, request.profile)
    if not request.new:
        _refuse_new_names(schema, document, target, view)
    _refuse_unsettable(schema, document, target, request, view)
    after, old, value = edit_profile(
        before,
        relative,
        target.path,
        lambda old, flow: new_value(
            target.kind, request.value, old, fixed=request.fixed, flow=flow
        ),
    )
    notes: list[str] = []
    if not request.fixed and isinstance(old, Mapping) and "fixed" in old:
        notes.append(
            f"'{format_key_path(target.path)}' was pinned ({{fixed: {old['fixed']}}}); it is now "
            "scaled by the environment (pass --fixed to keep it pinned)"
        )
    was = _was(document, view, target.path)
    return Edit(file, relative, target.path, before, after, was, show(value), tuple(notes))


def _read(file: Path, relative: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise CompileError([Diagnostic(Mark(relative), f"cannot read: {exc.strerror}")]) from None


def _refuse_new_names(
    schema: Mapping[str, Any], document: Document, target: Target, view: Mapping[str, Any]
) -> None:
    """A service, dependency, timeout or path name new to the chain is a typo until --new."""
    here: Any = view
    for depth, (key, free) in enumerate(zip(target.path, target.free, strict=True)):
        known = here if isinstance(here, Mapping) else {}
        if free and key not in known:
            parent = target.path[:depth]
            title = _name_title(schema, parent)
            close = did_you_mean(key, [k for k in known if isinstance(k, str)])
            hint = f"{close} pass --new to add '{key}'" if close else f"pass --new to add '{key}'"
            message = (
                f"no {title} '{key}' in '{format_key_path(parent)}' of this profile or its bases"
            )
            raise UsageError(
                [Diagnostic(key_mark(document, target.path[: depth + 1]), message, hint)]
            )
        here = known.get(key)


def _name_title(schema: Mapping[str, Any], parent: KeyPath) -> str:
    walker = SchemaWalker(schema)
    node = locate(schema, parent).schema if parent else walker.resolve(schema)
    rule = walker.resolve((walker.object_branch(node) or {}).get("propertyNames", {}))
    return str(rule.get("title", "key")).lower().removesuffix(" name")


def _refuse_unsettable(
    schema: Mapping[str, Any],
    document: Document,
    target: Target,
    request: SetRequest,
    view: Mapping[str, Any],
) -> None:
    """`--fixed` only pins timeouts; a mapping is changed one key at a time."""
    where = key_mark(document, target.path)
    shown = format_key_path(target.path)
    if request.fixed and target.kind != "timeout":
        message = f"--fixed pins a timeout; '{shown}' is not one"
        hint = "e.g. services.<service>.dependencies.<dependency>.timeouts.<timeout>"
        raise UsageError([Diagnostic(where, message, hint)])
    if target.kind == "object":
        keys = [name for name, _ in children(schema, target.path, view)]
        hint = f"e.g. {shown}.{keys[0]}" if keys else ""
        raise UsageError([Diagnostic(where, f"'{shown}' is a mapping; set one of its keys", hint)])


def _was(document: Document, view: Mapping[str, Any], path: KeyPath) -> str:
    """The value before the edit, as a person reads it."""
    own = _lookup(document.data, path)
    if own is not MISSING:
        return show(own)
    inherited = _lookup(view, path)
    return "not set" if inherited is MISSING else f"{show(inherited)} (inherited)"


def _lookup(data: Any, path: KeyPath) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return MISSING
        data = data[key]
    return data


def show(value: Any) -> str:
    """A loaded value in profile syntax: 3s, {fixed: 3s}, [a, b], true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str) and not value.isprintable():
        return json.dumps(value, ensure_ascii=False)
    return "null" if value is None else str(value)


def validate_edit(root: Path, edit: Edit) -> Compilation:
    """Compile a scratch copy of the repository with the edited profile in place."""
    from compiler.pipeline import compile_repository

    with tempfile.TemporaryDirectory(prefix="timeoutc-set-") as scratch:
        copy_root = Path(scratch)
        try:
            for folder in _REPOSITORY_INPUTS:
                if (root / folder).is_dir():
                    shutil.copytree(root / folder, copy_root / folder)
        except (OSError, shutil.Error) as exc:
            raise CompileError(
                [Diagnostic(Mark(edit.relative), f"cannot copy the repository to check it: {exc}")]
            ) from None
        (copy_root / edit.relative).write_bytes(edit.after)
        return compile_repository(copy_root)


def write_edit(edit: Edit) -> None:
    """Replace the profile atomically (temp file beside it, then rename); refuses if it moved."""
    target = edit.file.resolve()
    if _read(target, edit.relative) != edit.before:
        raise CompileError(
            [
                Diagnostic(
                    Mark(edit.relative),
                    "changed on disk while timeoutc set ran; nothing written",
                    "run the command again",
                )
            ]
        )
    temp = ""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        handle, temp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
        )
        with os.fdopen(handle, "wb") as stream:
            stream.write(edit.after)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        if temp:
            Path(temp).unlink(missing_ok=True)
        message = f"cannot write: {exc.strerror}; the file is unchanged"
        raise CompileError([Diagnostic(Mark(edit.relative), message)]) from None
