"""Reading a repository's files without surprises: a size limit, no FIFO or device read
forever, and links seen as links."""

from __future__ import annotations

import os
import stat

from compiler.diagnostics import CompileError, Diagnostic, Mark

MAX_FILE_BYTES = 8 * 1024 * 1024


def is_link(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a symbolic link (an entry that vanished is not)."""
    try:
        return entry.is_symlink()
    except OSError:
        return False


def read_limited(file: str | os.PathLike[str], path: str) -> bytes:
    """The bytes of a regular file, at most one more than the limit: never blocks on a FIFO
    or reads a device like /dev/zero forever."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CompileError([Diagnostic(Mark(path), f"cannot read: {exc.strerror}")]) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder opens too, but reads fail
        os.close(fd)
        raise CompileError([Diagnostic(Mark(path), "is not a regular file")])
    with os.fdopen(fd, "rb") as stream:
        try:
            return stream.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise CompileError([Diagnostic(Mark(path), f"cannot read: {exc.strerror}")]) from None
