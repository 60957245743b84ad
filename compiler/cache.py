"""Remember which pure checks passed, by a hash of everything they read (black's cache, smaller).

A `Memo` is a set of 16-byte BLAKE2b digests in one file of the user's cache folder.
Each digest covers a namespace (this compiler's source code, the Python and library
versions) and the exact bytes a check read; finding it means "this check, run by this
code on these bytes, passed before", and a check is a pure function of those bytes, so
it would pass again. Only successes are stored: a failure is always recomputed, so its
diagnostics are always fresh. Nothing in out/ or the repository is written.

The folder is $TIMEOUTC_CACHE_DIR, else $XDG_CACHE_HOME/timeoutc, else ~/.cache/timeoutc;
TIMEOUTC_NO_CACHE=1 turns the memo off. A cache that cannot be read or written is an
empty one: never an error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import sys
import tempfile
import weakref
from functools import cache
from pathlib import Path
from typing import Any

from compiler import __version__

DIGEST_BYTES = 16
KEEP_ENTRIES = 65_536  # 1 MB: older digests a run did not use are dropped past this
LIBRARIES = ("yaml", "jinja2", "jsonschema", "referencing")


def cache_folder() -> Path | None:
    """Where memos live, or None when caching is off or there is no home to put it in."""
    if os.environ.get("TIMEOUTC_NO_CACHE"):
        return None
    explicit = os.environ.get("TIMEOUTC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "timeoutc"
    home = os.environ.get("HOME")
    return Path(home) / ".cache" / "timeoutc" if home else None


@cache
def namespace() -> bytes:
    """A digest of the code that runs the checks: any change to it starts a fresh memo."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    digest.update(f"{__version__}\0{sys.version}\0".encode())
    package = Path(__file__).resolve().parent
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    for library in LIBRARIES:
        spec = importlib.util.find_spec(library)
        origin = spec.origin if spec else None
        if origin:  # the library's files change on every install or upgrade
            for path in (origin, os.path.dirname(origin)):
                info = os.stat(path)
                digest.update(f"{library}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.digest()


def key(*parts: bytes) -> bytes:
    """The digest of the namespace and `parts` (each length-prefixed: no two splits collide)."""
    digest = hashlib.blake2b(namespace(), digest_size=DIGEST_BYTES)
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


_sources: dict[int, tuple[weakref.ref[Any], bytes]] = {}


def remember_source(document: object, relative: str, raw: bytes) -> None:
    """Record that `document` was loaded from `raw`, the bytes of `relative`."""
    ident = id(document)
    reference = weakref.ref(document, lambda _: _sources.pop(ident, None))
    _sources[ident] = (reference, key(b"source", relative.encode(), raw))


def source_key(document: object) -> bytes | None:
    """The digest of the bytes `document` was loaded from, if this process loaded it."""
    entry = _sources.get(id(document))
    return entry[1] if entry is not None and entry[0]() is document else None


class Memo:
    """The digests of checks that passed, oldest first; `save` writes back what changed."""

    def __init__(self, name: str) -> None:
        self.name = name
        folder = cache_folder()
        self.path = folder / f"{name}.{namespace().hex()}.digests" if folder else None
        self.known = self._read()
        self.used: dict[bytes, None] = {}
        self.new: list[bytes] = []
        self.added = False

    def _read(self) -> dict[bytes, None]:
        if self.path is None:
            return {}
        try:  # never blocks: a FIFO or a device in its place is no memo
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as stream:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return {}
                raw = stream.read()
        except OSError:
            return {}
        if len(raw) % DIGEST_BYTES:
            return {}  # torn or foreign: start afresh
        return dict.fromkeys(raw[i : i + DIGEST_BYTES] for i in range(0, len(raw), DIGEST_BYTES))

    def __contains__(self, digest: bytes) -> bool:
        if digest in self.known:
            self.used[digest] = None
            return True
        return False

    def add(self, digest: bytes) -> None:
        """Record that the check behind `digest` passed."""
        self.used[digest] = None
        if digest not in self.known:
            self.known[digest] = None
            self.new.append(digest)
            self.added = True

    def merge(self, used: list[bytes], new: list[bytes]) -> None:
        """Take in what a worker process used and added (its `used` and `new`)."""
        for digest in new:
            self.add(digest)
        self.used.update(dict.fromkeys(used))

    def save(self) -> None:
        """Write the memo atomically if anything was added; failures are ignored.

        What this run used goes last; older digests fill up to KEEP_ENTRIES. Memos of
        other namespaces (older versions of the code) are removed.
        """
        if self.path is None or not self.added:
            return
        older = [d for d in self.known if d not in self.used]
        room = max(KEEP_ENTRIES - len(self.used), 0)
        entries = [*older[len(older) - room :], *self.used] if room else [*self.used]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(b"".join(entries))
                os.replace(temp, self.path)
            except BaseException:
                os.unlink(temp)
                raise
            for stale in self.path.parent.glob(f"{self.name}.*.digests"):
                if stale != self.path:
                    stale.unlink(missing_ok=True)
        except OSError:
            return
        self.added = False
