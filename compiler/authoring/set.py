"""`timeoutc set` from request to file: check the key path, edit, validate, replace atomically.

The text edit itself is `compiler.authoring.editing`; this module decides whether the edit may be
made (schema, names the profile chain knows, `--fixed`), validates the whole repository
with it on a scratch copy, and only then replaces the file.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.authoring.editing import MISSING, edit_profile, key_mark, new_value
from compiler.authoring.keypaths import (
    KeyPath,
    KeyPathError,
    SchemaWalker,
    Target,
    children,
    format_key_path,
    locate,
    merged_view,
    parse_key_path,
)
from compiler.diagnostics import CompileError, Diagnostic, Mark, UsageError, did_you_mean
from compiler.pipeline.emit import TEMP_SUFFIX
from compiler.pipeline.load import Document, load_bytes

if TYPE_CHECKING:
    from compiler.pipeline import Compilation

REPOSITORY_INPUTS = ("profiles", "schemas", "templates")


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
    from compiler.pipeline.schema import read_schema

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
            for folder in REPOSITORY_INPUTS:
                if (root / folder).is_dir():
                    shutil.copytree(root / folder, copy_root / folder)
        except (OSError, shutil.Error) as exc:
            raise CompileError(
                [Diagnostic(Mark(edit.relative), f"cannot copy the repository to check it: {exc}")]
            ) from None
        (copy_root / edit.relative).write_bytes(edit.after)
        try:
            return compile_repository(copy_root)
        except CompileError as exc:
            raise CompileError([_on_disk(d, edit) for d in exc.diagnostics]) from None


def _on_disk(diagnostic: Diagnostic, edit: Edit) -> Diagnostic:
    """A diagnostic about the edited text, placed on the file as it still is on disk."""
    mark = diagnostic.mark
    if mark.path != edit.relative or not mark.line:
        return diagnostic
    before = edit.before.decode("utf-8", "replace").splitlines()
    after = edit.after.decode("utf-8", "replace").splitlines()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, _, j1, j2 in matcher.get_opcodes():
        if j1 < mark.line <= j2 or (j1 == j2 == mark.line - 1):
            if tag == "equal":
                line = i1 + mark.line - j1
                return replace(diagnostic, mark=replace(mark, line=line))
            note = f"as the line would read after the edit: {after[mark.line - 1].strip()}"
            hint = f"{diagnostic.hint}; {note}" if diagnostic.hint else note
            if tag == "replace":  # the same line, its value changed: the column still holds
                return replace(diagnostic, mark=replace(mark, line=i1 + 1), hint=hint)
            above = replace(mark, line=max(i1, 1), column=1)  # inserted lines: the one above
            return replace(diagnostic, mark=above, hint=hint)
    return diagnostic


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
