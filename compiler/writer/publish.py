"""Publish staged files in out/ all or nothing: stage, sync, rename, and on any failure
or stopping signal put back what was there; SIGINT, SIGTERM and SIGHUP during a build.

`emit.write` decides what to write; this module only moves bytes, so that another
file (a manifest) joins the published set as one more (path, new, old) triple.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.stopping import STOP_SIGNALS

OUT_DIR = "out"
TEMP_SUFFIX = ".timeoutc-tmp"
Write = tuple[str, bytes, bytes | None]  # (path below the root, new bytes, old bytes or None)
Removal = tuple[str, bytes]  # (path below the root, its bytes before)


@dataclass(frozen=True)
class Staged:
    """A file written under its temporary name, and what its final place held before."""

    path: str
    temp: str
    final: str
    old: bytes | None


def stage_all(root: Path, writes: list[Write], stop: Stop) -> list[Staged] | None:
    """Stage every file of `writes` and make them durable; None when a signal asked to
    stop. On any failure or stop, what was staged (and the folders made) is removed."""
    staged: list[Staged] = []
    current = OUT_DIR
    ready: set[str] = set()  # folders made for an earlier file of this build
    try:
        for path, new, old in writes:
            current = path
            temp, final = _stage(root, path, new, ready)
            staged.append(Staged(path, temp, final, old))
            if stop.requested():
                break
        else:
            current = OUT_DIR
            _sync(root, staged)
            if not stop.requested():
                return staged
    except (OSError, CompileError) as exc:
        _discard(root, staged, writes)
        if isinstance(exc, CompileError):
            raise
        raise CompileError(
            [Diagnostic(Mark(current), f"cannot write: {exc.strerror}; nothing was changed")]
        ) from None
    _discard(root, staged, writes)
    return None


def _discard(root: Path, staged: list[Staged], writes: list[Write]) -> None:
    for item in staged:
        unlink(item.temp)
    for path, _, _ in writes:  # folders made for the outputs, now empty again
        remove_empty_parents(root, path)


def publish(root: Path, staged: list[Staged], extras: list[Removal], stop: Stop) -> None:
    """Rename every staged file over its place and delete `extras`; if a rename fails,
    or a signal asked to stop meanwhile, put back what was replaced and deleted."""
    done: list[Staged] = []
    deleted: list[Removal] = []
    failed, reason = OUT_DIR, ""
    try:
        for item in staged:
            failed = item.path
            os.replace(item.temp, item.final)
            done.append(item)
        for removal in extras:
            failed = removal[0]
            (root / removal[0]).unlink(missing_ok=True)
            deleted.append(removal)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    if not reason and not stop.requested():
        for path, _ in extras:
            remove_empty_parents(root, path)
        _sync(root, staged)
        return
    _restore(root, done, deleted)
    for item in staged[len(done) :]:
        unlink(item.temp)
    for item in staged:
        if item.old is None:
            remove_empty_parents(root, item.path)
    if reason:
        message = f"cannot write: {reason}; nothing was changed"
        raise CompileError([Diagnostic(Mark(failed), message)])


def _restore(root: Path, done: list[Staged], deleted: list[Removal]) -> None:
    """Put back the bytes each replaced or deleted file had before this build."""
    failed: list[Diagnostic] = []
    before: list[tuple[str, bytes | None]] = [(i.path, i.old) for i in done]
    for path, old in before + list(deleted):
        final = os.path.join(root, path)
        try:
            if old is None:
                unlink(final)
            else:
                temp, _ = _stage(root, path, old, {path.rpartition("/")[0]})
                os.replace(temp, final)
        except OSError as exc:
            failed.append(Diagnostic(Mark(path), f"cannot restore: {exc.strerror}"))
    if failed:
        raise CompileError(failed)


def _stage(root: Path, relative: str, content: bytes, ready: set[str]) -> tuple[str, str]:
    """Write `content` beside its final place under a temporary name; (temporary, final).

    Each folder is made once per build: `ready` holds those done for earlier files.
    Paths are strings: 16,000 pathlib objects cost more than the writes.
    """
    parts = relative.split("/")
    folder = "/".join(parts[:-1])
    final = os.path.join(root, relative)
    parent = os.path.dirname(final)
    if folder not in ready:
        os.makedirs(parent, exist_ok=True)
        ready.add(folder)
    temp = os.path.join(parent, f".{parts[-1]}.{os.getpid()}{TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temp, flags, 0o644)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError:  # a full disk: no half-written temporary file stays behind
        unlink(temp)
        raise
    return temp, final


def _sync(root: Path, staged: list[Staged]) -> None:
    """Make the staged files and their folders durable: one syncfs(2) of out/'s file
    system where Linux has it (far cheaper than an fsync per file), else an fsync of
    each file and each folder."""
    if not staged:
        return
    fd = os.open(root / OUT_DIR, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _SYNCFS is not None and _SYNCFS(fd) == 0:
            return
        for path in [
            *(i.temp for i in staged if os.path.exists(i.temp)),
            *(i.final for i in staged),
        ]:
            _fsync(path)
        for folder in sorted({os.path.dirname(i.final) for i in staged}):
            _fsync(folder)
    finally:
        os.close(fd)


def _fsync(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        function: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return function


_SYNCFS = _load_syncfs()


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP ended a build; out/ was left as it was."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it."""
        return 128 + self.signum


class Guard:
    """What `interruptible` does with a signal: raise, until out/ is written."""

    def __init__(self) -> None:
        self.done = False

    def out_written(self) -> None:
        """out/ is whole and new: a signal from now on lets the build finish."""
        self.done = True


@contextlib.contextmanager
def interruptible() -> Iterator[Guard]:
    """While a build runs, SIGINT, SIGTERM and SIGHUP raise `Interrupted` (main thread),
    until `Guard.out_written`: then the build, whose work is done, ends normally."""
    guard = Guard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        if not guard.done:
            raise Interrupted(signum)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield guard
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Stop:
    """Whether SIGINT, SIGTERM or SIGHUP arrived while they were held."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def requested(self) -> bool:
        """Whether a stopping signal is pending (checked between two files)."""
        if self.signum is None:
            pending = signal.sigpending()
            self.signum = next((int(n) for n in STOP_SIGNALS if n in pending), None)
        return self.signum is not None


@contextlib.contextmanager
def signals_held() -> Iterator[Stop]:
    """Hold the stopping signals while out/ changes, so that writes stop only between two
    files, never in the middle of one; on leaving, a held signal is delivered."""
    stop = Stop()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield stop
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if stop.signum is not None:  # delivered above unless ignored or handled: stop anyway
        raise Interrupted(stop.signum)


def unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_empty_parents(root: Path, relative: str) -> None:
    folder = (root / relative).parent
    top = root / OUT_DIR
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
