"""`timeoutc set` from request to file: check the key paths, edit, validate, replace atomically.

The text edit itself is `compiler.authoring.editing`; this module decides whether each edit
may be made (schema, names the profile chain knows, `--fixed` and `--scaled`), applies all
of them to the text, validates the whole repository with the result on a scratch copy, and
only then replaces the file.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.authoring.editing import MISSING, edit_profile, flow_mapping, key_mark, new_value
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
from compiler.files import read_limited
from compiler.pipeline import INPUT_FOLDERS
from compiler.pipeline.load import Document, load_bytes
from compiler.writer.emit import TEMP_SUFFIX

if TYPE_CHECKING:
    from compiler.pipeline import Compilation


@dataclass(frozen=True)
class SetRequest:
    """`timeoutc set PROFILE KEY.PATH VALUE` as plain values.

    `fixed` pins a timeout, `scaled` unpins it; with neither, a pinned timeout stays pinned.
    """

    profile: str
    key_path: str
    value: str
    fixed: bool = False
    new: bool = False
    scaled: bool = False


@dataclass(frozen=True)
class Assignment:
    """One value a `set` changes: where, and as a person reads it before and after."""

    path: KeyPath
    was: str
    now: str


@dataclass(frozen=True)
class Edit:
    """A planned change of one profile file: its bytes before and after, and what changed."""

    file: Path
    relative: str
    before: bytes
    after: bytes
    assignments: tuple[Assignment, ...]
    notes: tuple[str, ...] = ()
    new_services: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the file's bytes change."""
        return self.before != self.after


def plan_edits(root: Path, requests: Sequence[SetRequest]) -> Edit:
    """Several values of one profile, applied in order to its text; writes nothing.

    Every key path is checked before any text is edited, so that all the mistakes in a
    command line are reported at once.
    """
    from compiler.pipeline import PROFILES_DIR, profile_files
    from compiler.pipeline.schema import read_schema

    profile = requests[0].profile
    files = profile_files(root)
    file = files.get(profile)
    if file is None:
        hint = did_you_mean(profile, files) or f"profiles: {', '.join(files)}"
        raise UsageError([Diagnostic(Mark(PROFILES_DIR), f"unknown profile '{profile}'", hint)])
    relative = f"{PROFILES_DIR}/{file.name}"
    before = read_limited(file, relative)
    document = load_bytes(before, relative)
    schema = read_schema(root)
    view = merged_view(root, profile)
    targets: list[Target] = []
    errors: list[Diagnostic] = []
    for request in requests:
        try:
            targets.append(_target(schema, document, view, request))
        except CompileError as exc:
            errors.extend(exc.diagnostics)
    paths = [target.path for target in targets]
    for depth, path in enumerate(paths):
        clash = next((p for p in paths[:depth] if p[: len(path)] == path[: len(p)]), None)
        if clash is not None:
            message = f"'{format_key_path(path)}' is set twice in one command"
            if clash != path:
                message = f"'{format_key_path(path)}' overlaps '{format_key_path(clash)}'"
            errors.append(Diagnostic(key_mark(document, path), message, "set each value once"))
    if errors:
        raise UsageError(errors)
    text = before
    assignments: list[Assignment] = []
    notes: list[str] = []
    for request, target in zip(requests, targets, strict=True):
        inherited = _lookup(view, target.path)
        pin = request.fixed or (not request.scaled and _pinned(inherited))
        build = _builder(target, request, pin)
        current = load_bytes(text, relative)
        text, _, value = edit_profile(text, relative, target.path, build)
        notes.extend(_pin_notes(target.path, inherited, value, request))
        assignments.append(Assignment(target.path, _was(current, view, target.path), show(value)))
    known = view.get("services")
    new_services = sorted(
        {p[1] for p in paths if len(p) > 1 and p[0] == "services"}
        - set(known if isinstance(known, Mapping) else ())
    )
    return Edit(file, relative, before, text, tuple(assignments), tuple(notes), tuple(new_services))


def _target(
    schema: Mapping[str, Any], document: Document, view: Mapping[str, Any], request: SetRequest
) -> Target:
    """Where the request's key path leads, or a located usage error."""
    segments: KeyPath = ()
    try:
        segments = parse_key_path(request.key_path)
        target = locate(schema, segments)
    except KeyPathError as exc:
        where = key_mark(document, segments[: exc.depth])
        raise UsageError([Diagnostic(where, exc.message, exc.hint)]) from None
    if not request.new:
        _refuse_new_names(schema, document, target, view)
    _refuse_unsettable(schema, document, target, request, view)
    return target


def _builder(target: Target, request: SetRequest, pin: bool) -> Callable[[Any, bool], Any]:
    """The function that makes the new value from the old one (and whether it sits in flow)."""
    if target.kind == "object":
        data = _mapping_value(request.value, format_key_path(target.path))
        return lambda old, flow: flow_mapping(data)
    return lambda old, flow: new_value(target.kind, request.value, old, fixed=pin, flow=flow)


def _mapping_value(text: str, shown: str) -> dict[str, Any]:
    """VALUE for a mapping: YAML flow, read by the profile loader's own strict rules."""
    where = f"VALUE of {shown}"
    try:
        return load_bytes(text.encode("utf-8"), where).data
    except CompileError as exc:
        raise UsageError(exc.diagnostics) from None


def _pinned(value: Any) -> bool:
    return isinstance(value, Mapping) and "fixed" in value


def _pin_notes(path: KeyPath, inherited: Any, value: Any, request: SetRequest) -> Iterator[str]:
    """What `--fixed` and `--scaled` changed, and that a pin was kept."""
    shown = format_key_path(path)
    if _pinned(inherited) and request.scaled:
        yield (
            f"'{shown}' was pinned ({show(inherited)}); it is now scaled by the environment "
            "(a comment on its line that says it is pinned no longer holds)"
        )
    elif _pinned(inherited) and not request.fixed:
        yield f"'{shown}' stays pinned, not scaled (pass --scaled to scale it)"
    elif request.fixed and inherited is not MISSING and not _pinned(inherited):
        yield (
            f"'{shown}' was scaled ({show(inherited)}); it is now pinned ({show(value)}): "
            "not scaled by the environment"
        )


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
    """`--fixed` and `--scaled` only apply to timeouts; a mapping takes a YAML flow mapping."""
    where = key_mark(document, target.path)
    shown = format_key_path(target.path)
    if request.fixed and request.scaled:
        raise UsageError([Diagnostic(where, "--fixed and --scaled contradict each other")])
    for flag, does in (("--fixed", request.fixed), ("--scaled", request.scaled)):
        if does and target.kind != "timeout":
            message = f"{flag} applies to a timeout; '{shown}' is not one"
            hint = "e.g. services.<service>.dependencies.<dependency>.timeouts.<timeout>"
            raise UsageError([Diagnostic(where, message, hint)])
    if target.kind == "object" and not request.value.lstrip().startswith("{"):
        keys = [name for name, _ in children(schema, target.path, view)]
        example = f"'{{{keys[0]}: ...}}'" if keys else "'{key: value}'"
        hint = f"e.g. {shown}.{keys[0]}, or the whole mapping as {example}" if keys else ""
        message = f"'{shown}' is a mapping; set one of its keys, or give VALUE as a YAML mapping"
        raise UsageError([Diagnostic(where, message, hint)])


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
            for folder in INPUT_FOLDERS:
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
            found = [_on_disk(d, edit) for d in exc.diagnostics]
            raise CompileError(found + list(_new_service_notes(edit, found))) from None


def _new_service_notes(edit: Edit, found: Sequence[Diagnostic]) -> Iterator[Diagnostic]:
    """How to give a new service that lacks required keys everything in one command."""
    profile = Path(edit.relative).stem
    for name in edit.new_services:
        if not any(d.message.startswith(f"service '{name}' has no ") for d in found):
            continue
        message = (
            f"'services.{name}' is new: give it every required key in one command, as "
            f"several KEY.PATH VALUE pairs or as one mapping, e.g. timeoutc set {profile} "
            f"services.{name} '{{image: ..., port: 8080, request_timeout: 60s, "
            "health: {startup: /health, liveness: /health}}' --new"
        )
        yield Diagnostic(Mark(edit.relative), message, severity="note")


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
    if read_limited(target, edit.relative) != edit.before:
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
