"""out/.timeoutc-manifest.json: every file the compiler wrote, with its sha256 digest.

The manifest is how timeoutc knows its own files in every format: a JSON output has no
comment syntax for the generated-file header. It also tells `check` a hand-edited file
(its digest differs from the one recorded) from a stale one (the profiles changed).
Ownership, in short: a file in a format with comments is timeoutc's while it carries
the header; a file in a format without comments is timeoutc's while the manifest lists
it (and, to be deleted, while its bytes are still the ones recorded).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.headers import has_comments, is_generated
from compiler.writer.emit import (
    MANIFEST,
    Change,
    compare,
    is_temporary,
    read_out,
    write,
)

MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def digest(content: bytes) -> str:
    """`sha256:<hex>` of `content`."""
    return f"sha256:{hashlib.sha256(content).hexdigest()}"


def render_manifest(outputs: Mapping[str, bytes]) -> bytes:
    """The manifest for `outputs`: sorted, indented JSON, LF, final newline."""
    document = {
        "generator": "timeoutc",
        "format": MANIFEST_FORMAT,
        "files": {path: digest(outputs[path]) for path in sorted(outputs)},
    }
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def parse_manifest(content: bytes) -> dict[str, str] | None:
    """The recorded digests by path, or None when `content` is not a manifest."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        return None
    files = document.get("files")
    if not isinstance(files, dict):
        return None
    return {str(p): d for p, d in files.items() if isinstance(d, str)}


def read_manifest(root: Path) -> bytes | None:
    """The manifest's bytes, or None when there is none; never read through a link."""
    path = os.path.join(root, MANIFEST)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        message = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise CompileError([Diagnostic(Mark(MANIFEST), f"cannot read: {message}")]) from None
    with os.fdopen(fd, "rb") as stream:
        if not os.path.isfile(path):
            raise CompileError([Diagnostic(Mark(MANIFEST), "is not a regular file")])
        return stream.read(MAX_MANIFEST_BYTES)


def classify(change: Change, recorded: Mapping[str, str] | None) -> Change:
    """`change` with its kind decided by the header and the manifest, as explained above."""
    if change.old is None or is_temporary(change.path):  # a killed build's leftover: extra
        return change
    listed = recorded is not None and change.path in recorded
    unchanged = listed and recorded is not None and recorded[change.path] == digest(change.old)
    if has_comments(change.path):
        if not is_generated(change.old):
            return replace(change, kind="header-removed" if change.new is not None else "unowned")
    elif not (unchanged if change.new is None else listed):
        return replace(change, kind="unowned")
    if change.new is None:
        return replace(change, kind="extra")
    return replace(change, kind="hand-edited" if listed and not unchanged else "stale")


@dataclass(frozen=True)
class Plan:
    """What a build changes in out/: the outputs, then the manifest that lists them."""

    outputs: list[Change]
    manifest: Change | None

    def changes(self) -> list[Change]:
        """What `check` reports, sorted by path: the outputs that differ or, when none does,
        the manifest (after a build that was stopped, or when it was deleted)."""
        if self.outputs or self.manifest is None:
            return sorted(self.outputs, key=lambda change: change.path)
        return [self.manifest]


def plan(root: Path, outputs: Mapping[str, bytes]) -> Plan:
    """Compare `outputs` (and their manifest) with what out/ holds now."""
    existing = read_out(root, outputs)
    current = read_manifest(root)
    recorded = None if current is None else parse_manifest(current)
    changes = [classify(change, recorded) for change in compare(existing, outputs)]
    wanted = render_manifest(outputs)
    manifest: Change | None = None
    if current is None:
        manifest = Change(MANIFEST, "missing", None, wanted)
    elif current != wanted:
        manifest = Change(MANIFEST, "stale", current, wanted)
    return Plan(changes, manifest)


def apply(root: Path, planned: Plan, written: Callable[[], None] | None = None) -> None:
    """Write the outputs and the manifest, all or nothing (`emit.write`); the manifest goes
    last, so that even a build killed past all rollback leaves it listing what it did."""
    write(root, [*planned.outputs, *([planned.manifest] if planned.manifest else [])], written)
